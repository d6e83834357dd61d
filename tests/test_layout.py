"""The layout keeps its promises: one way down, no loops, Streamlit only in the UI, no provider
names tested outside ``chatkit/providers``, no module too big to read in one sitting."""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

import pytest

from chatkit.providers import provider_names

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "chatkit"
MAX_LINES = 400
# What each part of chatkit may import from chatkit (prefixes), lowest first. The core at the
# top of chatkit/ is split in two: what providers may use, and what uses providers.
CORE = (
    "chatkit.errors",
    "chatkit.messages",
    "chatkit.conversation",
    "chatkit.encodings",
    "chatkit.context_windows",
    "chatkit.tokens",
    "chatkit.window_fill",
    "chatkit.trimming",
)
ALLOWED: dict[str, tuple[str, ...]] = {
    "chatkit.providers": (*CORE, "chatkit.providers"),
    "chatkit.store": (
        "chatkit.errors",
        "chatkit.messages",
        "chatkit.replies",
        "chatkit.branches",
        "chatkit.conversation",
        "chatkit.store",
    ),
}
NOT_BELOW_UI = "chatkit.ui"
# The top of Streamlit-free chatkit: the policy the UI holds in its session state. Only the UI
# uses it; nothing below it may depend on a session.
SESSION = "chatkit.session"
PROVIDER_CONSTANTS = frozenset({"OPENAI", "ANTHROPIC", "COMPATIBLE", "LOCAL"})


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@cache
def modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def imported(path: Path) -> set[str]:
    """Every chatkit module ``path`` imports, at the top, inside functions or for type checks."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    known = modules()
    return {name for name in found if name in known}


def graph() -> dict[str, set[str]]:
    return {name: imported(path) - {name} for name, path in modules().items()}


def _depth(
    name: str, edges: dict[str, set[str]], seen: dict[str, int], path: tuple[str, ...]
) -> int:
    if name in path:
        raise AssertionError("import loop: " + " -> ".join((*path[path.index(name) :], name)))
    if name not in seen:
        seen[name] = 1 + max(
            (_depth(n, edges, seen, (*path, name)) for n in edges[name]), default=0
        )
    return seen[name]


def test_no_import_loops() -> None:
    edges, seen = graph(), {}
    for name in edges:
        _depth(name, edges, seen, ())


def test_nothing_imports_upward() -> None:
    for name, targets in graph().items():
        for area, allowed in ALLOWED.items():
            if name == area or name.startswith(area + "."):
                wrong = sorted(t for t in targets if not t.startswith(allowed))
                assert not wrong, f"{name} imports {wrong}, above {area}"
        if not name.startswith(NOT_BELOW_UI):
            assert not any(t.startswith(NOT_BELOW_UI) for t in targets), name
            assert name == SESSION or not any(t.startswith(SESSION) for t in targets), name


def test_streamlit_only_in_the_ui_and_the_pages() -> None:
    for name, path in modules().items():
        if name.startswith(NOT_BELOW_UI):
            continue
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            assert not any(n.split(".")[0] == "streamlit" for n in names), name


@pytest.mark.parametrize("folder", ["chatkit", "app_pages"])
def test_no_module_is_too_long(folder: str) -> None:
    for path in (ROOT / folder).rglob("*.py"):
        lines = len(path.read_text().splitlines())
        assert lines <= MAX_LINES, f"{path.relative_to(ROOT)} has {lines} lines"


def _names_a_provider(node: ast.AST) -> bool:
    if isinstance(node, ast.Constant):
        return node.value in provider_names()
    if isinstance(node, ast.Name):
        return node.id in PROVIDER_CONSTANTS
    if isinstance(node, ast.Attribute):
        return node.attr in PROVIDER_CONSTANTS
    if isinstance(node, ast.Tuple | ast.List | ast.Set):
        return any(_names_a_provider(item) for item in node.elts)
    return False


def test_the_ui_reads_capabilities_not_provider_names() -> None:
    paths = [p for n, p in modules().items() if not n.startswith("chatkit.providers")]
    paths += [*sorted((ROOT / "app_pages").glob("*.py")), ROOT / "app.py"]
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Compare):
                operands = [node.left, *node.comparators]
                assert not any(_names_a_provider(o) for o in operands), (
                    f"{path.relative_to(ROOT)}:{node.lineno} compares a provider name"
                )
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
                "chatkit.providers"
            ):
                wrong = {alias.name for alias in node.names} & PROVIDER_CONSTANTS
                assert not wrong, f"{path.relative_to(ROOT)} imports {wrong}"


def test_the_longest_chain_of_imports() -> None:
    """Imports stack at most 13 modules deep (from a UI module, through the session and the
    turn queue, down to ``chatkit.errors``): a deeper chain is a design decision, not an
    accident. (13 since the session's policy moved out of ``chatkit.ui.state`` into
    ``chatkit.session``, one level between the UI and the turn queue.)"""
    edges, seen = graph(), {}
    depth = max(_depth(name, edges, seen, ()) for name in edges)
    assert depth <= 13


def test_the_pages_are_not_in_a_folder_streamlit_runs_on_its_own() -> None:
    # A `pages/` folder beside app.py switches Streamlit (1.67) to its old multipage mode until
    # someone opens "/": the first visitor of /lessons?join=CODE would get pages/lessons.py run
    # without app.py (no sidebar, no navigation), and so would everyone after them.
    assert not (ROOT / "pages").exists()
    assert (ROOT / "app_pages" / "lessons.py").exists()
