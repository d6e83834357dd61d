"""The teacher's page in Chromium: real app processes in class mode, each student in a browser
context of their own, the teacher's page left open.

Lesson 1 is passed with its "Show me" (the task's two messages, sent by the chat) on the
protocol test server, so a pass takes a second and is the same every run; the class command's
test runs llama-server with the bundled model instead, as a class does. The roster is read from
the table Streamlit draws (its grid keeps a hidden HTML table of the cells for screen readers).
Every wait is on the page; the one clock is test 1's: a pass must show on the teacher's open
page within five seconds of the student's page saying so.
"""

from __future__ import annotations

import csv
import io
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from chatkit.classroom import create_class
from chatkit.lessons import LESSONS
from tests.chromium import assistant_messages, new_page, screenshot, send_message, wait_idle
from tests.nginx import NGINX, Nginx, established, serving
from tests.processes import ROOT, RunningApp, free_port, start_app, stop_process

pytestmark = pytest.mark.browser

PASSWORD = "pw-teacher-browser-0123"
SEEN_WITHIN = 5.0  # s: how soon a pass shows on the teacher's open page (the criterion)
ROSTER_WAIT = 30_000  # ms: long enough to measure a slow update rather than time out at 5 s
REPLY = 180_000  # ms: two replies of the bundled model through llama-server, first load included
NAME_LABEL = "Your name, as the teacher will see it"
COLUMNS = ["Student", "On lesson", *(str(item.number) for item in LESSONS)]

# The roster as the page shows it: the header and each row's cells, from the data grid's
# hidden table (null before the table is drawn).
ROSTER_JS = """() => {
  const table = document.querySelector('[data-testid="stDataFrame"] table[role="grid"]');
  if (!table) return null;
  const text = cell => cell.textContent.trim();
  return {
    head: [...table.querySelectorAll('thead th')].map(text),
    rows: [...table.querySelectorAll('tbody tr')]
      .map(row => [...row.querySelectorAll('td')].map(text)),
  };
}"""
SHOWS_JS = f"(want) => JSON.stringify(({ROSTER_JS})()) === JSON.stringify(want)"
# A check's verdict saying it passed (an alert's lines: its icon's name, then the sentence).
PASSED_JS = """() => [...document.querySelectorAll('[data-testid="stAlert"]')]
  .some(alert => alert.innerText.split('\\n').some(line => line.trim().startsWith('Passed: ')))"""


def _class_env(server, **more: str) -> dict[str, str]:
    """Class mode as the class command sets it, on the protocol server instead of llama-server."""
    return {
        "OPENAI_BASE_URL": server.openai_base_url,
        "CHATKIT_CLASS": "true",
        "CHATKIT_GENERATION_DEFAULTS": "local",
        "CHATKIT_TEACHER_PASSWORD": PASSWORD,
        **more,
    }


@pytest.fixture(scope="module")
def class_app(protocol_server, tmp_path_factory) -> Iterator[RunningApp]:
    """One app in class mode; each test makes its own class on it."""
    with start_app(tmp_path_factory.mktemp("class"), _class_env(protocol_server)) as app:
        yield app


@pytest.fixture
def pages(browser, request) -> Iterator[Callable[[str], Page]]:
    """``pages(name)``: a page in a browser context of its own (one person); all are closed at
    the end, each with a screenshot when the test failed."""
    opened: dict[str, Page] = {}

    def open_page(name: str) -> Page:
        opened[name] = new_page(browser)
        return opened[name]

    yield open_page
    report = getattr(request.node, "rep_call", None)
    for name, page in opened.items():
        if report is not None and report.failed:
            screenshot(page, f"FAILED-{request.node.name}-{name}")
        page.context.close()


# -- reading the page ---------------------------------------------------------------------------


def _main(page):
    return page.locator('[data-testid="stMainBlockContainer"]')


def _alerts(page) -> list[str]:
    """The sentences of the page's alerts (info, warning, error, success), in order."""
    markdown = '[data-testid="stAlert"] [data-testid="stMarkdownContainer"]'
    return [text.strip() for text in _main(page).locator(markdown).all_inner_texts()]


def _one_sentence(text: str) -> bool:
    return text.endswith(".") and text.count(". ") == 0 and "\n" not in text


def _shown(name: str, lesson: int = 1, marks: dict[int, str] | None = None) -> list[str]:
    """A roster row as the page shows it: name, lesson open, then ✓ / ✗ / blank per lesson."""
    marks = marks or {}
    return [name, str(lesson), *(marks.get(item.number, "") for item in LESSONS)]


def _wait_roster(page, rows: list[list[str]], timeout: float = ROSTER_WAIT) -> None:
    """Wait (each animation frame) until the roster table shows exactly ``rows``."""
    page.wait_for_function(
        SHOWS_JS, arg={"head": COLUMNS, "rows": rows}, polling="raf", timeout=timeout
    )


def _roster(page) -> list[list[str]]:
    shown = page.evaluate(ROSTER_JS)
    assert shown is not None and shown["head"] == COLUMNS, shown
    return shown["rows"]


# -- what a teacher does --------------------------------------------------------------------------


def _sign_in(page, url: str, password: str = PASSWORD) -> None:
    """Open the teacher page and type the teacher password."""
    page.goto(f"{url}/teacher")
    box = _main(page).get_by_label("Teacher password")
    box.wait_for()
    wait_idle(page)
    box.fill(password)
    box.press("Enter")
    wait_idle(page)
    _main(page).get_by_role("button", name="Open the teacher page").click()
    wait_idle(page)


def _teacher(page, url: str) -> None:
    _sign_in(page, url)
    _main(page).get_by_text("Make a class", exact=True).wait_for()


def _make_class(page, title: str) -> str:
    """Make a class called ``title`` on the open teacher page; its code."""
    box = _main(page).get_by_label("Title", exact=True)
    if not box.is_visible():
        _main(page).get_by_text("Make a class", exact=True).click()
    box.fill(title)
    box.press("Enter")
    wait_idle(page)
    _main(page).get_by_role("button", name="Make the class").click()
    chosen = _main(page).get_by_role("combobox", name="Class")
    expect(chosen).to_have_value(re.compile(rf"^{re.escape(title)} \(\w+\)$"), timeout=30_000)
    wait_idle(page)
    return re.search(r"\((\w+)\)$", chosen.input_value()).group(1)


def _join_link(page) -> str:
    found = re.search(r"Join link:\s*(\S+)", _main(page).inner_text())
    assert found, _main(page).inner_text()
    return found.group(1)


# -- what a student does --------------------------------------------------------------------------


def _join(page, link: str, name: str) -> None:
    """Open the join link, give a name, press Join: the lessons, in the class."""
    page.goto(link)
    box = _main(page).get_by_label(NAME_LABEL)
    box.wait_for()
    wait_idle(page)
    box.fill(name)
    box.press("Enter")
    wait_idle(page)
    _main(page).get_by_role("button", name=re.compile(r"(^|\s)Join$")).click()
    _main(page).get_by_text(re.compile(rf" · you are {name}$")).wait_for()
    wait_idle(page)


def _show_me(page, timeout: float = 60_000) -> float:
    """Press the open lesson's "Show me" and wait (each animation frame) for its check to say
    it passed; the moment it did (``time.monotonic()``)."""
    _main(page).get_by_role("button", name=re.compile("Show me")).click()
    page.wait_for_function(PASSED_JS, polling="raf", timeout=timeout)
    passed_at = time.monotonic()
    wait_idle(page, timeout)
    return passed_at


def _open_lesson(page, number: int) -> None:
    title = f"{number}. {LESSONS[number - 1].title}"
    _main(page).get_by_text(title, exact=True).first.click()
    _main(page).get_by_role("heading", name=title).wait_for()
    wait_idle(page)


# -- 1. live ------------------------------------------------------------------------------------


def test_the_open_teacher_page_shows_each_students_pass_within_five_seconds(
    class_app, pages, capsys
) -> None:
    teacher = pages("teacher")
    _teacher(teacher, class_app.url)
    code = _make_class(teacher, "Period 1")
    link = _join_link(teacher)
    assert link == f"{class_app.url}/lessons?join={code}"
    _main(teacher).get_by_text("Nobody has joined yet: put the code on the board.").wait_for()
    teacher.evaluate("() => { window.chatkitNotReloaded = true; }")

    delays: dict[str, float] = {}
    rows: list[list[str]] = []
    for name in ("Ada", "Ben", "Cy"):
        student = pages(name)
        _join(student, link, name)
        passed_at = _show_me(student)
        rows.append(_shown(name, 1, {1: "✓"}))
        _wait_roster(teacher, rows)
        delays[name] = time.monotonic() - passed_at
        count = len(rows)
        summary = (
            "1 student · 1 lesson check passed"
            if count == 1
            else f"{count} students · {count} lesson checks passed"
        )
        _main(teacher).get_by_text(summary, exact=True).wait_for()

    with capsys.disabled():
        shown = ", ".join(f"{name} {delay:.2f} s" for name, delay in delays.items())
        print(f"\nthe teacher's page showed each pass after: {shown}")
    assert teacher.evaluate("() => window.chatkitNotReloaded === true"), "the page was reloaded"
    assert all(delay <= SEEN_WITHIN for delay in delays.values()), delays
    assert not _main(teacher).get_by_text(re.compile(r"^Stuck: ")).count()  # nobody is failing
    screenshot(teacher, "teacher-three-students-passed")


# -- 2. the CSV ---------------------------------------------------------------------------------


def _mark(cell: str) -> str:
    """A CSV cell as the roster table marks it."""
    return "✗" if cell.startswith("failed: ") else {"passed": "✓", "": ""}[cell]


def test_the_csv_export_has_the_rows_the_roster_shows(class_app, pages) -> None:
    teacher = pages("teacher")
    _teacher(teacher, class_app.url)
    code = _make_class(teacher, "Period 2")
    link = _join_link(teacher)
    # Ada passes lesson 1; Ben sends one message in the chat, which is not the task yet; Cy
    # passes lessons 1 and 2 and stays on 2.
    ada = pages("Ada")
    _join(ada, link, "Ada")
    _show_me(ada)
    ben = pages("Ben")
    _join(ben, link, "Ben")
    _main(ben).get_by_role("link", name=re.compile("Do it in the chat")).click()
    ben.locator('[data-testid="stChatInput"] textarea').wait_for()
    wait_idle(ben)
    send_message(ben, "My name is Ben.")
    assistant_messages(ben).first.get_by_text(re.compile(r"tokens in")).wait_for()
    failed = _main(ben).get_by_text(re.compile(r"two calls are needed\.$"))
    failed.wait_for()
    ben_sentence = failed.inner_text().strip()
    cy = pages("Cy")
    _join(cy, link, "Cy")
    _show_me(cy)
    _open_lesson(cy, 2)
    _show_me(cy)

    _wait_roster(
        teacher,
        [_shown("Ada", 1, {1: "✓"}), _shown("Ben", 1, {1: "✗"}), _shown("Cy", 2, {1: "✓", 2: "✓"})],
    )
    main = _main(teacher)
    main.get_by_text("3 students · 3 lesson checks passed", exact=True).wait_for()
    stuck = f"Stuck: lesson 1 ({LESSONS[0].title}) fails its check for 1 student."
    assert stuck in _alerts(teacher)

    with teacher.expect_download() as download:
        main.get_by_role("button", name=re.compile(r"Download the roster \(CSV\)")).click()
    assert download.value.suggested_filename == f"class-{code}.csv"
    text = Path(download.value.path()).read_text(encoding="utf-8")
    wait_idle(teacher)
    shown = _roster(teacher)  # the table as it is after the download, too
    exported = list(csv.DictReader(io.StringIO(text)))
    as_marked = [
        [
            row["name"],
            row["current lesson"],
            *(_mark(row[f"lesson {item.number}"]) for item in LESSONS),
        ]
        for row in exported
    ]
    assert as_marked == shown
    assert exported[1]["lesson 1"] == f"failed: {ben_sentence}"  # the sentence Ben was shown
    joined = [datetime.fromisoformat(row["joined"]) for row in exported]
    assert joined == sorted(joined)  # in the order they joined, as the table is


# -- 3. the gate ----------------------------------------------------------------------------------


def test_a_student_cannot_open_the_teacher_page_nor_guess_its_password(class_app, pages) -> None:
    teacher = pages("teacher")
    _teacher(teacher, class_app.url)
    _make_class(teacher, "Period 3")
    link = _join_link(teacher)
    ada = pages("Ada")
    _join(ada, link, "Ada")
    _show_me(ada)

    ada.goto(f"{class_app.url}/teacher")
    password = _main(ada).get_by_label("Teacher password")
    password.wait_for()
    wait_idle(ada)
    (gate,) = _alerts(ada)
    assert _one_sentence(gate) and "Lessons page" in gate, gate

    def nothing_of_the_class() -> None:
        main = _main(ada)
        assert not ada.locator('[data-testid="stException"]').count()  # no traceback
        assert not main.locator('[data-testid="stDataFrame"]').count()  # no roster
        shown = main.inner_text()
        assert "Code:" not in shown and "Ada" not in shown and "Download" not in shown

    nothing_of_the_class()
    _sign_in(ada, class_app.url, "Period3-guess")
    wrong = _main(ada).locator('[data-testid="stAlert"]', has_text="not the teacher password")
    wrong.wait_for()
    sentence = wrong.locator('[data-testid="stMarkdownContainer"]').inner_text().strip()
    assert _one_sentence(sentence), sentence
    nothing_of_the_class()
    screenshot(ada, "teacher-page-a-student-with-a-wrong-password")

    # back on the Lessons page (a new session): the pass is kept, and said once
    ada.goto(f"{class_app.url}/lessons")
    earlier = _main(ada).get_by_text(re.compile(r"^Passed earlier"))
    earlier.wait_for()
    said = earlier.inner_text().strip()
    assert said.startswith("Passed earlier: the last request carried only your new question")
    assert said.count("Passed") == 1 and _one_sentence(said), said


# -- 4. two processes behind nginx ------------------------------------------------------------


@pytest.fixture
def class_behind_nginx(
    tmp_path, server, postgres_url
) -> Iterator[tuple[list[RunningApp], Nginx, str]]:
    """Two app processes in class mode on one PostgreSQL database (its URL), behind nginx."""
    if not Path(NGINX).exists():
        pytest.fail("Debian's nginx is missing: run bash scripts/test.sh, which installs it.")
    environment = _class_env(server, CHATKIT_DATABASE_URL=postgres_url)
    started: list[RunningApp] = []
    try:
        for name in ("first", "second"):
            started.append(start_app(tmp_path / name, environment))
        with Nginx([app.url.removeprefix("http://") for app in started]) as nginx:
            yield started, nginx, postgres_url
    finally:
        for app in started:
            app.stop()


def _connections(apps: list[RunningApp], wanted: list[int]) -> list[int]:
    """The open connections to each process, once they are ``wanted`` (or after 10 s)."""
    ports = [int(app.url.rsplit(":")[-1]) for app in apps]
    deadline = time.monotonic() + 10
    while True:
        counts = [established(port) for port in ports]
        if counts == wanted or time.monotonic() > deadline:
            return counts
        time.sleep(0.1)


def _routes(browser, apps: list[RunningApp], proxy: Nginx) -> list[str]:
    """A route cookie that sends a browser to each process, found by trying: one page at a
    time, the process holding its WebSocket is the one its cookie chose."""
    found: dict[int, str] = {}
    for attempt in range(40):
        route = f"route-{attempt}"
        page = new_page(browser)
        page.context.add_cookies([{"name": "chatkit_route", "value": route, "url": proxy.url}])
        page.goto(f"{proxy.url}/lessons")
        _main(page).get_by_label("Class code").wait_for()
        wait_idle(page)
        on = serving(apps)
        page.context.close()
        assert _connections(apps, [0, 0]) == [0, 0]
        if len(on) == 1:
            found.setdefault(on[0], route)
        if len(found) == len(apps):
            return [found[index] for index in range(len(apps))]
    pytest.fail("no route cookie sent a page to each process")


def test_two_processes_behind_nginx_show_the_same_roster(browser, class_behind_nginx, pages):
    apps, proxy, database_url = class_behind_nginx
    routes = _routes(browser, apps, proxy)
    code = create_class(database_url, "Period 4")  # as the class command makes its class
    assert code
    link = f"{proxy.url}/lessons?join={code}"
    on = {"Ada": 0, "Ben": 1, "Cy": 0}
    students = {}
    for name, process in on.items():
        student = pages(name)
        student.context.add_cookies(
            [{"name": "chatkit_route", "value": routes[process], "url": proxy.url}]
        )
        _join(student, link, name)
        _show_me(student)
        students[name] = student
    # each student's WebSocket is held by the process their cookie chose: both served students
    assert _connections(apps, [2, 1]) == [2, 1]

    first, second = pages("teacher-first"), pages("teacher-second")
    _teacher(first, apps[0].url)
    _teacher(second, apps[1].url)
    rows = [_shown(name, 1, {1: "✓"}) for name in on]
    for teacher in (first, second):
        _main(teacher).get_by_text(f"Code: {code}").wait_for()
        _wait_roster(teacher, rows)
        _main(teacher).get_by_text("3 students · 3 lesson checks passed", exact=True).wait_for()
    # a move on the second process shows on both open pages
    _open_lesson(students["Ben"], 2)
    rows[1] = _shown("Ben", 2, {1: "✓"})
    for teacher in (first, second):
        _wait_roster(teacher, rows)
    assert _roster(first) == _roster(second) == rows


# -- 5. the class command -------------------------------------------------------------------------


def _command_env(tmp_path: Path) -> dict[str, str]:
    """This environment without provider keys or chatkit settings, the data in ``tmp_path``."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("OPENAI_", "ANTHROPIC_", "CHATKIT_"))
    }
    env.update(CHATKIT_DATA_DIR=str(tmp_path / "data"), HF_HUB_OFFLINE="1", PYTHONUNBUFFERED="1")
    return env


def _stat(pid: int) -> list[str] | None:
    """/proc/<pid>/stat's fields after the command name (state first), or None when gone."""
    try:
        return (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def _descendants(pid: int) -> dict[int, tuple[str, str]]:
    """Every process under ``pid``: its start time (to tell a reused pid) and command line."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _stat(int(entry.name))) is not None:
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    found: dict[int, tuple[str, str]] = {}
    waiting = list(children.get(pid, []))
    while waiting:
        child = waiting.pop()
        fields = _stat(child)
        try:
            command = (Path("/proc") / str(child) / "cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        if fields is not None:
            found[child] = (fields[19], command.decode(errors="replace"))
            waiting.extend(children.get(child, []))
    return found


def _alive(pid: int, started: str) -> bool:
    fields = _stat(pid)
    return fields is not None and fields[19] == started and fields[0] != "Z"


def test_the_class_command_on_a_second_address_and_ctrl_c_leaves_nothing_running(
    tmp_path, pages
) -> None:
    port, address = free_port(), "127.0.0.2"
    command = [
        sys.executable,
        "-m",
        "chatkit.classroom",
        "--address",
        address,
        "--port",
        str(port),
        "--parallel",
        "2",
        "--teacher-password",
        PASSWORD,
        "--title",
        "Period 5",
    ]
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        env=_command_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: queue.Queue[str | None] = queue.Queue()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line)
        lines.put(None)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    output: list[str] = []
    children: dict[int, tuple[str, str]] = {}
    try:
        deadline = time.monotonic() + 300
        while not any("Ctrl-C ends the class" in line for line in output):
            line = lines.get(timeout=max(deadline - time.monotonic(), 0.1))
            assert line is not None, "".join(output)
            output.append(line)
        printed = "".join(output)
        join = re.search(r"Join:  (\S+)", printed)
        code = re.search(r"Code:  (\S+)", printed)
        assert join and code, printed
        link = join.group(1)
        assert link == f"http://{address}:{port}/lessons?join={code.group(1)}"
        assert PASSWORD not in printed  # the teacher gave it: not shown again
        with pytest.raises(OSError):  # bound to the address given, not every interface
            urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2)

        student = pages("Ada")
        _join(student, link, "Ada")
        _main(student).get_by_role("heading", name=f"1. {LESSONS[0].title}").wait_for()
        _show_me(student, REPLY)  # the bundled model answers through llama-server
        teacher = pages("teacher")
        _teacher(teacher, f"http://{address}:{port}")
        assert _join_link(teacher) == link  # the page's link is the one the command printed
        _wait_roster(teacher, [_shown("Ada", 1, {1: "✓"})])

        children = _descendants(process.pid)
        commands = " ".join(command for _, command in children.values())
        assert "llama-server" in commands and "streamlit" in commands, commands
        process.send_signal(signal.SIGINT)
        process.wait(timeout=90)
        reader.join(timeout=10)
        while not lines.empty() and (line := lines.get_nowait()) is not None:
            output.append(line)
    finally:
        stop_process(process)
        for pid, (started, _) in children.items():
            if _alive(pid, started):
                os.kill(pid, signal.SIGKILL)
    rest = "".join(output)
    assert process.returncode == 0, rest
    assert "The class has ended" in rest
    left = {pid: command for pid, (started, command) in children.items() if _alive(pid, started)}
    assert not left, f"still running after Ctrl-C: {left}"
    with pytest.raises(OSError):
        urllib.request.urlopen(f"http://{address}:{port}/_stcore/health", timeout=2)
