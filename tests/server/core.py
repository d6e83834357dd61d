"""The protocol server: routing, request log, failure injection and control endpoints.

A stdlib ``ThreadingHTTPServer`` on 127.0.0.1 (see :mod:`tests.server.transport`) that
the real ``openai`` and ``anthropic`` SDKs accept via ``base_url``.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.server.anthropic_messages import count_tokens, create_message
from tests.server.base import (
    ApiRequest,
    DropConnection,
    Failure,
    JsonReply,
    RecordedRequest,
    Reply,
    StreamReply,
    new_id,
    now,
)
from tests.server.errors import (
    FAILURE_KINDS,
    IMMEDIATE_KINDS,
    anthropic_error,
    auth_error,
    context_length_error,
    injected_error,
    openai_error,
)
from tests.server.model import Answer, Turn
from tests.server.openai_chat import chat_input_tokens, create_chat_completion, tokenize
from tests.server.openai_responses import (
    ResponseStore,
    create_response,
    delete_response,
    list_input_items,
    retrieve_response,
)
from tests.server.transport import Handler, HTTPServer

OPENAI_MODELS = ("gpt-4o", "gpt-4o-mini", "gpt-4.1", "gpt-5.4-mini", "gpt-5.5")
ANTHROPIC_MODELS = ("claude-haiku-4-5", "claude-sonnet-5-5", "claude-opus-4-8")
CONTROL_PREFIX = "/__control__/"


def list_models(request: ApiRequest, server: ProtocolServer) -> Reply:
    """``GET /v1/models`` in OpenAI's shape, or Anthropic's when ``anthropic-version`` is set."""
    if "anthropic-version" in request.headers:
        data = [
            {"type": "model", "id": m, "display_name": m, "created_at": "2026-01-01T00:00:00Z"}
            for m in ANTHROPIC_MODELS
        ]
        return JsonReply(
            200,
            {"data": data, "has_more": False, "first_id": data[0]["id"], "last_id": data[-1]["id"]},
        )
    data = [
        {"id": m, "object": "model", "created": now(), "owned_by": "openai"} for m in OPENAI_MODELS
    ]
    return JsonReply(200, {"object": "list", "data": data})


@dataclass(frozen=True)
class Route:
    """One API route; ``generation`` routes are the ones injected failures hit by default."""

    method: str
    pattern: re.Pattern[str]
    family: str
    handler: Callable[..., Reply]
    generation: bool = False


def _route(method: str, path: str, family: str, handler: Callable[..., Reply], gen: bool = False):
    return Route(method, re.compile(path), family, handler, gen)


RESPONSE_PATH = r"/v1/responses/(?P<response_id>[^/]+)"
ROUTES = (
    _route("POST", r"/v1/chat/completions", "chat", create_chat_completion, True),
    _route("POST", r"/v1/responses", "responses", create_response, True),
    _route("GET", RESPONSE_PATH, "responses", retrieve_response),
    _route("DELETE", RESPONSE_PATH, "responses", delete_response),
    _route("GET", RESPONSE_PATH + r"/input_items", "responses", list_input_items),
    _route("GET", r"/v1/models", "openai", list_models),
    _route("POST", r"/v1/chat/completions/input_tokens", "openai", chat_input_tokens),
    _route("POST", r"/tokenize", "openai", tokenize),
    _route("POST", r"/v1/messages", "anthropic", create_message, True),
    _route("POST", r"/v1/messages/count_tokens", "anthropic", count_tokens),
)


def _find_route(method: str, path: str) -> tuple[Route | None, dict[str, str]]:
    for route in ROUTES:
        match = route.pattern.fullmatch(path.rstrip("/") or "/")
        if match and route.method == method:
            return route, match.groupdict()
    return None, {}


class ProtocolServer:
    """Local double of the OpenAI (Chat Completions, Responses) and Anthropic Messages APIs.

    ``requests`` logs every API request in order; ``fail_next`` queues failures;
    ``supports_previous_response_id = False`` makes ``/v1/responses`` reject chaining like
    llama.cpp, and ``requires_typed_items = True`` rejects input items without a ``type`` as
    llama.cpp does; ``count_endpoint = "llama.cpp"`` answers llama.cpp's
    ``POST /v1/chat/completions/input_tokens`` and ``"vllm"`` vLLM's ``POST /tokenize`` (else
    404, like OpenAI); ``chunk_delay`` slows streams down; ``context_window`` (tokens, or None)
    makes larger prompts fail with each API's context-length error.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port
        self.responses = ResponseStore()
        self.supports_previous_response_id = True
        self.requires_typed_items = False
        self.count_endpoint: str | None = None
        self.chunk_delay = 0.0
        self.context_window: int | None = None
        self._lock = threading.Lock()
        self._requests: list[RecordedRequest] = []
        self._failures: list[Failure] = []
        self._httpd: HTTPServer | None = None

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> ProtocolServer:
        """Bind and serve in a daemon thread; returns self."""
        self._httpd = HTTPServer(Handler, self.host, self.port)
        self._httpd.protocol = self
        self.port = self._httpd.port
        self._httpd.start(name=f"protocol-server-{self.port}")
        return self

    def stop(self) -> None:
        """Stop serving and close the listening socket."""
        if self._httpd is not None:
            self._httpd.stop()
            self._httpd = None

    def __enter__(self) -> ProtocolServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://{self.host}:{self.port}"

    @property
    def openai_base_url(self) -> str:
        """Base URL for ``openai.OpenAI`` (includes ``/v1``)."""
        return f"{self.base_url}/v1"

    @property
    def anthropic_base_url(self) -> str:
        """Base URL for ``anthropic.Anthropic`` (the SDK adds ``/v1/messages`` itself)."""
        return self.base_url

    # -- observation and control ----------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        """A snapshot of every API request received since the last reset, in order."""
        with self._lock:
            return list(self._requests)

    def requests_to(self, path_suffix: str) -> list[RecordedRequest]:
        """The recorded requests whose path ends with ``path_suffix``."""
        return [r for r in self.requests if r.path.endswith(path_suffix)]

    def last_request(self, path_suffix: str = "") -> RecordedRequest:
        """The most recent request whose path ends with ``path_suffix``."""
        matching = self.requests_to(path_suffix)
        if not matching:
            raise LookupError(f"no request to a path ending in {path_suffix!r} was recorded")
        return matching[-1]

    def reset(self) -> None:
        """Forget requests, stored responses and queued failures; restore default options."""
        with self._lock:
            self._requests.clear()
            self._failures.clear()
        self.responses.clear()
        self.supports_previous_response_id = True
        self.requires_typed_items = False
        self.count_endpoint = None
        self.chunk_delay = 0.0
        self.context_window = None

    def fail_next(
        self, kind: str, times: int = 1, *, path: str | None = None, **params: Any
    ) -> None:
        """Make the next ``times`` matching POST requests fail with ``kind``.

        Kinds: ``400`` (``message=``, where "{key}" quotes the caller's key), ``401``,
        ``404_model``, ``429``, ``500``, ``529``, ``context_length`` (``tokens=``, ``limit=``,
        ``style=`` llama.cpp/vllm/ollama for a compatible server's words), ``cut_stream``
        (``after_chunks=``, ``graceful=``),
        ``slow`` (``delay=`` seconds), ``stream_error`` (``style=`` ``failed``/``error``/
        ``nested`` for Responses). Without ``path`` only generation routes match.
        """
        if kind not in FAILURE_KINDS:
            raise ValueError(f"unknown failure kind {kind!r}; choose from {sorted(FAILURE_KINDS)}")
        with self._lock:
            self._failures.extend(Failure(kind, dict(params), path) for _ in range(times))

    @property
    def pending_failures(self) -> list[Failure]:
        """Failures queued but not yet consumed."""
        with self._lock:
            return list(self._failures)

    def options(self) -> dict[str, Any]:
        """The adjustable behaviour, as the control endpoint reports it."""
        return {
            "supports_previous_response_id": self.supports_previous_response_id,
            "requires_typed_items": self.requires_typed_items,
            "count_endpoint": self.count_endpoint,
            "chunk_delay": self.chunk_delay,
            "context_window": self.context_window,
        }

    def answer(self, context: list[Turn], family: str, request_id: str) -> Answer | JsonReply:
        """The model's answer to ``context``; when ``context_window`` is set and the prompt is
        larger, the context-length error of API ``family`` instead."""
        answer = Answer.of(context)
        if self.context_window is not None and answer.input_tokens > self.context_window:
            return context_length_error(
                family, tokens=answer.input_tokens, limit=self.context_window, request_id=request_id
            )
        return answer

    # -- request handling -----------------------------------------------------------------

    def handle(
        self, method: str, target: str, headers: dict[str, str], raw_body: bytes
    ) -> tuple[Reply, Failure | None]:
        """Answer one HTTP request; the failure returned applies while streaming."""
        url = urlsplit(target)
        query = {key: values[-1] for key, values in parse_qs(url.query).items()}
        body: Any = None
        body_error = False
        if raw_body:
            try:
                body = json.loads(raw_body)
            except ValueError:
                body_error = True
        if url.path.startswith(CONTROL_PREFIX):
            return self._control(method, url.path, body), None
        with self._lock:
            self._requests.append(
                RecordedRequest(
                    method, url.path, headers, body if isinstance(body, dict) else None, query
                )
            )
        route, args = _find_route(method, url.path)
        family = route.family if route else "openai"
        if route and route.handler is list_models and "anthropic-version" in headers:
            family = "anthropic"
        request = ApiRequest(
            method, url.path, headers, body if isinstance(body, dict) else {}, query, new_id("req_")
        )
        if route is None:
            reply: Reply = openai_error(404, f"Invalid URL ({method} {url.path})")
            failure = None
        else:
            reply, failure = self._respond(route, family, request, args, body_error)
        if isinstance(reply, JsonReply | StreamReply):
            id_header = "request-id" if family == "anthropic" else "x-request-id"
            reply.headers.setdefault(id_header, request.request_id)
        return reply, failure

    def _respond(
        self,
        route: Route,
        family: str,
        request: ApiRequest,
        args: dict[str, str],
        body_error: bool,
    ) -> tuple[Reply, Failure | None]:
        failure = self._take_failure(request, route) if request.method == "POST" else None
        if failure is not None:
            if failure.kind not in FAILURE_KINDS:  # a typo in an x-test-fail header
                message = f"unknown x-test-fail kind {failure.kind!r}"
                return openai_error(400, message, param="x-test-fail"), None
            if failure.kind in IMMEDIATE_KINDS:
                return injected_error(
                    failure.kind, family, failure.params, request.body, request
                ), None
            if failure.kind == "slow":
                time.sleep(float(failure.params.get("delay", 1.0)))
                failure = None
            elif not request.streaming and failure.kind == "cut_stream":
                return DropConnection(), None
            elif not request.streaming:  # stream_error on a plain request: a 500
                return injected_error("500", family, failure.params, request.body, request), None
        error = auth_error(family, request)
        if error is not None:
            return error, None
        if body_error:
            return _bad_json(family, request.request_id), None
        return route.handler(request, self, **args), failure

    def _take_failure(self, request: ApiRequest, route: Route) -> Failure | None:
        kind = request.headers.get("x-test-fail")
        if kind:
            params: dict[str, Any] = {}
            for name in ("after_chunks", "delay", "style", "graceful", "tokens", "limit"):
                value = request.headers.get("x-test-" + name.replace("_", "-"))
                if value is not None:
                    params[name] = value
            return Failure(kind, params)
        with self._lock:
            for index, failure in enumerate(self._failures):
                if failure.matches(request.path, route.generation):
                    return self._failures.pop(index)
        return None

    def _control(self, method: str, path: str, body: Any) -> JsonReply:
        """``/__control__/*``: drive a server running in another process."""
        body = body if isinstance(body, dict) else {}
        action = path.removeprefix(CONTROL_PREFIX).rstrip("/")
        if method == "POST" and action == "reset":
            self.reset()
            return JsonReply(200, {"ok": True})
        if method == "POST" and action == "fail":
            params = dict(body)
            kind = str(params.pop("kind", ""))
            times = int(params.pop("times", 1))
            path_filter = params.pop("path", None)
            try:
                self.fail_next(kind, times, path=path_filter, **params)
            except ValueError as exc:
                return JsonReply(400, {"error": str(exc)})
            return JsonReply(200, {"ok": True, "queued": times})
        if method == "POST" and action == "options":
            for flag in ("supports_previous_response_id", "requires_typed_items"):
                if flag in body:
                    setattr(self, flag, bool(body[flag]))
            if "count_endpoint" in body:
                self.count_endpoint = body["count_endpoint"] or None
            if "chunk_delay" in body:
                self.chunk_delay = float(body["chunk_delay"])
            if "context_window" in body:
                window = body["context_window"]
                self.context_window = None if window is None else int(window)
            return JsonReply(200, self.options())
        if method == "GET" and action == "options":
            return JsonReply(200, self.options())
        if method == "GET" and action == "requests":
            return JsonReply(200, [r.to_dict(redact=True) for r in self.requests])
        return JsonReply(404, {"error": f"unknown control endpoint {method} {path}"})


def _bad_json(family: str, request_id: str) -> JsonReply:
    if family == "anthropic":
        return anthropic_error(
            400,
            "invalid_request_error",
            "There was an error parsing the body",
            request_id=request_id,
        )
    return openai_error(400, "We could not parse the JSON body of your request.")
