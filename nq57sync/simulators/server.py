"""A loopback HTTP server with the bad manners of the real systems.

Simulators subclass `SimServer` and implement `handle`. Faults are drawn per
request from a seeded generator, so a run is reproducible; the server picks a
free port and stops with its context manager.
"""

from __future__ import annotations

import abc
import json
import random
import threading
import time
import urllib.parse
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import attrs

#: Faults both real systems show (sources.md, "Behaviour both real systems show").
FAULT_KINDS = ("latency", "http_500", "http_429", "drop", "truncate", "html_200", "token_expiry")


@attrs.define
class Faults:
    """What goes wrong, how often. `permanent` makes one kind happen on every request."""

    rate: float = 0.0
    kinds: tuple[str, ...] = FAULT_KINDS
    seed: int = 1
    latency: float = 0.0          # added to every request, seconds
    slow_seconds: float = 0.3     # the extra wait of a "latency" fault
    retry_after: str = "1"
    permanent: str | None = None
    daily_budget: int | None = None   # requests the portal accepts before refusing
    #: Faults served first, in order, to the requests whose path ends with the key
    #: (e.g. {"/openid-connect/token": ["html_200", "http_503", "drop"]}); any kind
    #: of `FAULT_KINDS`, "http_503", "stall", "expire" (every token revoked, 401) or
    #: "ok" (this request goes through).
    script: Mapping[str, list[str]] = attrs.field(factory=dict)
    stall_seconds: float = 600.0      # how long a "stall" keeps the client waiting
    _rng: random.Random = attrs.field(init=False, repr=False)
    _lock: threading.Lock = attrs.field(init=False, repr=False, factory=threading.Lock)

    def __attrs_post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    def draw(self, allowed: tuple[str, ...], path: str = "") -> str | None:
        with self._lock:
            for suffix, queue in self.script.items():
                if path.endswith(suffix) and queue:
                    kind = queue.pop(0)
                    return None if kind == "ok" else kind
        if self.permanent:
            return self.permanent if self.permanent in allowed else None
        kinds = [k for k in self.kinds if k in allowed]
        with self._lock:
            if kinds and self._rng.random() < self.rate:
                return self._rng.choice(kinds)
        return None


@attrs.frozen
class Response:
    status: int = 200
    body: bytes = b""
    content_type: str = "application/json; charset=utf-8"
    headers: Mapping[str, str] = attrs.field(factory=dict)

    @classmethod
    def json(cls, data: Any, status: int = 200) -> Response:
        return cls(status, json.dumps(data, ensure_ascii=False).encode())

    @classmethod
    def html(cls, text: str, status: int = 200) -> Response:
        return cls(status, text.encode(), "text/html; charset=utf-8")


@attrs.frozen
class Request:
    method: str
    path: str
    query: Mapping[str, str]
    form: Mapping[str, str]
    headers: Mapping[str, str]


ERROR_PAGE = ("<!DOCTYPE html>\n<html><head><title>Lỗi hệ thống</title></head><body>"
              "<h1>Hệ thống đang bận, vui lòng thử lại sau.</h1></body></html>")


class SimServer(abc.ABC):
    """Base of the simulators: routing, faults, request log, lifecycle."""

    #: Faults this system can show (subclasses narrow it).
    fault_kinds: tuple[str, ...] = ("latency", "http_500", "http_429", "drop", "truncate")

    def __init__(self, faults: Faults | None = None, host: str = "127.0.0.1",
                 port: int = 0) -> None:
        self.faults = faults or Faults()
        self.request_times: list[float] = []
        self.requests_by_path: dict[str, int] = {}
        self._log_lock = threading.Lock()
        self._budget_used = 0
        self._cache: dict[tuple[object, ...], Any] = {}
        self._cache_revision = -1
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _serve(self, method: str) -> None:
                parsed = urllib.parse.urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode("utf-8", "replace") if length else ""
                form = dict(urllib.parse.parse_qsl(body)) if "form-urlencoded" in (
                    self.headers.get("Content-Type") or "") else {}
                request = Request(method, parsed.path, dict(urllib.parse.parse_qsl(parsed.query)),
                                  form, {k.lower(): v for k, v in self.headers.items()})
                server._answer(self, request)

            def do_GET(self) -> None:
                self._serve("GET")

            def do_POST(self) -> None:
                self._serve("POST")

        self._httpd = ThreadingHTTPServer((host, port), Handler)
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    def cached(self, key: tuple[object, ...], revision: int, compute: Any) -> Any:
        """Memoise an expensive listing until the province's data changes."""
        with self._log_lock:
            if self._cache_revision != revision:
                self._cache.clear()
                self._cache_revision = revision
            if key in self._cache:
                return self._cache[key]
        value = compute()
        with self._log_lock:
            self._cache[key] = value
        return value

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> SimServer:
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True,
                                        name=type(self).__name__)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread:
            self._thread.join(timeout=5)

    def __enter__(self) -> SimServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def peak_rate(self, window: float = 1.0) -> float:
        """The most requests seen in any `window` seconds, per second."""
        times = sorted(self.request_times)
        best, lo = 0, 0
        for hi, t in enumerate(times):
            while t - times[lo] > window:
                lo += 1
            best = max(best, hi - lo + 1)
        return best / window

    # -- to implement -----------------------------------------------------

    @abc.abstractmethod
    def handle(self, request: Request) -> Response:
        """Answer one request as the real system would."""

    def on_token_expiry(self, request: Request, force: bool = False) -> Response | None:
        """Simulate a token expiring under this request; None if not applicable.

        Without `force` only a token that has been used for a while expires."""
        return None

    # -- plumbing ---------------------------------------------------------

    def _answer(self, handler: BaseHTTPRequestHandler, request: Request) -> None:
        with self._log_lock:
            self.request_times.append(time.monotonic())
            self.requests_by_path[request.path] = self.requests_by_path.get(request.path, 0) + 1
            self._budget_used += 1
            over_budget = (self.faults.daily_budget is not None
                           and self._budget_used > self.faults.daily_budget)
        if self.faults.latency:
            time.sleep(self.faults.latency)
        fault = self.faults.draw(self.fault_kinds, request.path)
        if over_budget:
            response = Response.json({"error": "Vượt quá hạn mức truy cập trong ngày"}, 429)
            response = attrs.evolve(response, headers={"Retry-After": "86400"})
        elif fault == "latency":
            time.sleep(self.faults.slow_seconds)
            response = self._safe_handle(request)
        elif fault == "stall":
            time.sleep(self.faults.stall_seconds)
            response = self._safe_handle(request)
        elif fault in ("http_500", "http_503"):
            response = Response.html(ERROR_PAGE, int(fault[-3:]))
        elif fault == "http_429":
            response = Response(429, b"Too Many Requests", "text/plain",
                                {"Retry-After": self.faults.retry_after})
        elif fault == "drop":
            handler.close_connection = True
            return
        elif fault == "html_200":
            response = Response.html(ERROR_PAGE, 200)
        elif fault == "token_expiry":
            response = self.on_token_expiry(request) or self._safe_handle(request)
        elif fault == "expire":
            response = self.on_token_expiry(request, force=True) or self._safe_handle(request)
        else:
            response = self._safe_handle(request)
        body = response.body
        if fault == "truncate":
            handler.close_connection = True
        handler.send_response(response.status)
        handler.send_header("Content-Type", response.content_type)
        handler.send_header("Content-Length", str(len(body)))
        for key, value in response.headers.items():
            handler.send_header(key, value)
        handler.end_headers()
        handler.wfile.write(body[: len(body) // 2] if fault == "truncate" else body)

    def _safe_handle(self, request: Request) -> Response:
        try:
            return self.handle(request)
        except (KeyError, ValueError) as exc:
            return Response.json({"error": f"Tham số không hợp lệ: {exc}"}, 400)
