"""The one HTTP client every source plugin receives.

Plugins describe requests; this module decides how politely and how stubbornly
to make them: explicit timeouts, a strict requests-per-second spacing, bounded
concurrency, a daily request budget that survives restarts, retries with
exponential backoff and jitter, one re-authentication on 401, and detection of
HTML where JSON was promised. It never logs headers, bodies or credentials.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import json
import logging
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from nq57sync import vi
from nq57sync.errors import AuthError, BudgetExhausted, Cancelled, DataError, SourceError
from nq57sync.hooktypes import DossierPage
from nq57sync.model import VN_TZ

if TYPE_CHECKING:
    import ssl

    # Imported when a client is made (`SourceClient`): commands that send no
    # request start 70 ms sooner without it (measured, `python -X importtime`).
    import httpx

log = logging.getLogger("nq57sync.http")
T = TypeVar("T")
R = TypeVar("R")

_RETRY_STATUS = frozenset({429, 500, 502, 503, 504, 520, 521, 522, 524})
_MAX_RETRY_AFTER = 120.0
_MAX_REAUTHENTICATIONS = 1  # sources.md: "a second 401 is an authentication error"


class Authenticator(Protocol):
    """What a plugin's login (e.g. Keycloak) offers the client."""

    def headers(self) -> Mapping[str, str]: ...

    def refresh(self, rejected: Mapping[str, str]) -> None:
        """Called after a 401 on a request sent with `rejected` headers.

        A no-op if another thread already replaced those credentials; raise
        AuthError if new ones cannot be had.
        """


class RateLimiter:
    """Spaces requests at least 1/rate seconds apart, across threads."""

    def __init__(self, rate: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self._clock = clock
        self._next = 0.0
        self._lock = threading.Lock()

    def delay(self) -> float:
        """Reserve the next slot; how long to wait for it."""
        with self._lock:
            now = self._clock()
            slot = max(now, self._next)
            self._next = slot + self.interval
        return slot - now

    def wait(self) -> None:
        pause = self.delay()
        if pause > 0:
            time.sleep(pause)


class RequestBudget:
    """A per-source daily request count; kept by the store (so restarts don't reset it)
    or, without a store, in memory.

    The store's counter has its own connection: the store's main connection may be
    inside a snapshot transaction on another thread.
    """

    def __init__(self, store_path: Path | None, source: str, limit: int) -> None:
        from nq57sync_storage.budget import BudgetCounter

        self.source = source
        self.limit = limit
        self._lock = threading.Lock()
        self._memory_used = 0
        self._counter = BudgetCounter(store_path, source) if store_path is not None else None

    @staticmethod
    def today() -> str:
        return dt.datetime.now(VN_TZ).date().isoformat()

    def used(self) -> int:
        if self._counter is None:
            return self._memory_used
        return self._counter.used(self.today())

    def remaining(self) -> int:
        return max(0, self.limit - self.used())

    def spend(self) -> None:
        with self._lock:
            if self._counter is None:
                if self._memory_used >= self.limit:
                    raise self._exhausted()
                self._memory_used += 1
            elif not self._counter.spend(self.today(), self.limit):
                raise self._exhausted()

    def _exhausted(self) -> BudgetExhausted:
        return BudgetExhausted(
            f"Nguồn “{self.source}” đã dùng hết hạn mức {self.limit} yêu cầu trong ngày "
            f"{dt.date.fromisoformat(self.today()):%d/%m/%Y}; lượt đồng bộ dừng lại, "
            "hãy chạy lại vào ngày mai hoặc tăng daily_request_budget.",
            source=self.source,
        )

    def close(self) -> None:
        if self._counter is not None:
            self._counter.close()


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if not value:
        return None
    with contextlib.suppress(ValueError):
        return max(0.0, float(value))
    import email.utils

    with contextlib.suppress(TypeError, ValueError):
        when = email.utils.parsedate_to_datetime(value)
        return max(0.0, (when - dt.datetime.now(dt.UTC)).total_seconds())
    return None


def first_line(body: str, limit: int = 120) -> str:
    """The first non-empty line of a body, for one-sentence error messages."""
    for line in body.splitlines():
        if line.strip():
            return line.strip()[:limit]
    return "(trống)"


@functools.cache
def tls_context(ca_bundle: str | None = None) -> ssl.SSLContext:
    """One verifying TLS context per CA bundle: loading certificates is not free."""
    import ssl

    if ca_bundle:
        return ssl.create_default_context(cafile=ca_bundle)
    import certifi

    return ssl.create_default_context(cafile=certifi.where())


class UnexpectedAnswer(Exception):
    """Raised by a parse function: the answer is not the one asked for.

    Portals answer a maintenance or error page (often HTML with status 200)
    where JSON or their statistics table was promised; such an answer is
    retried like a 503 and, when retries run out, refused with `DataError`.
    """

    def __init__(self, line: str, what: str = "không như mong đợi") -> None:
        super().__init__(line)
        self.line = line
        self.what = what


def _identity(response: httpx.Response) -> httpx.Response:
    return response


def decode_json(response: httpx.Response) -> Any:
    """The JSON of an answer; anything else is an `UnexpectedAnswer` (retried)."""
    text = response.text
    try:
        return json.loads(text)
    except ValueError:
        raise UnexpectedAnswer(first_line(text), "không phải JSON") from None
    except RecursionError:
        raise UnexpectedAnswer("JSON lồng nhau quá sâu", "không đọc được") from None


class SourceClient:
    """An httpx client with a source's manners. Thread-safe."""

    def __init__(
        self,
        source: str,
        *,
        requests_per_second: float = 2.0,
        max_concurrency: int = 4,
        connect_timeout: float = 30.0,
        read_timeout: float = 180.0,
        max_retries: int = 5,
        retry_backoff: float = 1.0,
        budget: RequestBudget | None = None,
        verify: ssl.SSLContext | None = None,
        transport: httpx.BaseTransport | None = None,
        cancel: threading.Event | None = None,
        max_response_mb: float = 50.0,
    ) -> None:
        self.source = source
        self.cancel = cancel
        self.max_response_bytes = int(max_response_mb * 1024 * 1024)
        self.max_concurrency = max(1, max_concurrency)
        self.max_retries = max(0, max_retries)
        self.retry_backoff = retry_backoff
        self.limiter = RateLimiter(requests_per_second)
        self.budget = budget or RequestBudget(None, source, 10**9)
        self.requests_sent = 0
        self._count_lock = threading.Lock()
        import httpx

        self._http = httpx.Client(
            timeout=httpx.Timeout(read_timeout, connect=connect_timeout),
            verify=verify or tls_context(),
            transport=transport,
            follow_redirects=False,
            limits=httpx.Limits(max_connections=self.max_concurrency * 2),
            headers={"User-Agent": "nq57sync/0.1"},
        )

    def close(self) -> None:
        self._http.close()
        self.budget.close()

    # -- stopping and waiting ---------------------------------------------

    def _check_cancelled(self) -> None:
        if self.cancel is not None and self.cancel.is_set():
            raise Cancelled(f"Lượt đồng bộ nguồn “{self.source}” đã dừng theo yêu cầu; "
                            "không lưu dữ liệu dở dang.")

    def _wait(self, seconds: float) -> None:
        """Sleep (backoff, rate limit) unless asked to stop first."""
        if seconds <= 0:
            return
        if self.cancel is None:
            time.sleep(seconds)
        elif self.cancel.wait(seconds):
            self._check_cancelled()

    def _send(self, method: str, url: str, params: Mapping[str, Any] | None,
              data: Mapping[str, Any] | None, headers: Mapping[str, str]) -> httpx.Response:
        """One HTTP exchange with the body read in bounded memory.

        With a `cancel` event the exchange runs on a helper thread so that a
        stop request does not wait for a stalled source's read timeout
        (systemd gives a service 90 s): the caller returns at once and the
        helper ends when `close()` shuts the connection.
        """
        if self.cancel is None:
            return self._exchange(method, url, params, data, headers)
        done: Future[httpx.Response] = Future()

        def run() -> None:
            try:
                done.set_result(self._exchange(method, url, params, data, headers))
            except BaseException as exc:  # handed to the caller
                done.set_exception(exc)

        threading.Thread(target=run, daemon=True, name=f"{self.source}-request").start()
        while True:
            try:
                return done.result(timeout=0.1)
            except TimeoutError:
                self._check_cancelled()

    def _exchange(self, method: str, url: str, params: Mapping[str, Any] | None,
                  data: Mapping[str, Any] | None, headers: Mapping[str, str]) -> httpx.Response:
        with self._http.stream(method, url, params=params, data=data, headers=headers) as response:
            declared = response.headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) > self.max_response_bytes:
                raise self._too_large()
            chunks, size = [], 0
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > self.max_response_bytes:
                    raise self._too_large()
                chunks.append(chunk)
            response._content = b"".join(chunks)  # as `Response.read()` would set it
        return response

    def _too_large(self) -> DataError:
        return DataError(
            f"Câu trả lời của nguồn “{self.source}” lớn hơn giới hạn "
            f"{vi.number(self.max_response_bytes / 1024 / 1024, 0)} MB (khóa max_response_mb); "
            "không đọc tiếp để giữ bộ nhớ.", source=self.source)

    def __enter__(self) -> SourceClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- requests ---------------------------------------------------------

    def request(
        self,
        method: str,
        url: str,
        *,
        service: str,
        params: Mapping[str, Any] | None = None,
        data: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        auth: Authenticator | None = None,
        parse: Callable[[httpx.Response], R] | None = None,
        client_errors: Collection[int] = (),
    ) -> Any:
        """One logical request, retried as the source's behaviour requires.

        Every request — a login, a token refresh, a listing, a public page —
        goes through the same policy: timeouts, dropped connections, 5xx and
        429 (honouring `Retry-After`) are retried with backoff, and so is an
        answer that `parse` refuses with `UnexpectedAnswer` (a maintenance
        page where data was promised). Statuses in `client_errors` (a token
        endpoint's 400/401) are handed to `parse` to judge instead of raising.
        Without `parse` the response itself is returned.
        """
        return self._attempts(method, url, service, params, data, headers, auth,
                              parse or _identity, frozenset(client_errors))

    def json(
        self,
        method: str,
        url: str,
        *,
        service: str,
        params: Mapping[str, Any] | None = None,
        data: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        auth: Authenticator | None = None,
    ) -> Any:
        """A request whose answer must be JSON; an HTML page is retried, then refused."""
        return self.request(method, url, service=service, params=params, data=data,
                            headers=headers, auth=auth, parse=decode_json)

    def _attempts(
        self,
        method: str,
        url: str,
        service: str,
        params: Mapping[str, Any] | None,
        data: Mapping[str, Any] | None,
        headers: Mapping[str, str] | None,
        auth: Authenticator | None,
        parse: Callable[[httpx.Response], R],
        client_errors: frozenset[int],
    ) -> R:
        import httpx

        reauthentications = 0
        attempt = 0
        while True:
            self._check_cancelled()
            self.budget.spend()
            self._wait(self.limiter.delay())
            all_headers = dict(headers or {})
            if auth is not None:
                all_headers.update(auth.headers())
            started = time.monotonic()
            problem: str
            delay: float | None = None
            try:
                response = self._send(method, url, params, data, all_headers)
                with self._count_lock:
                    self.requests_sent += 1
                log.debug("%s %s %s → %s (%.0f ms)", self.source, method, service,
                          response.status_code, 1000 * (time.monotonic() - started))
                status = response.status_code
                if status == 401 and auth is not None and status not in client_errors:
                    # An expired token: log in again, once, and retry; requests that
                    # shared the token find it renewed and do not log in again.
                    if reauthentications >= _MAX_REAUTHENTICATIONS:
                        raise AuthError(
                            f"Nguồn “{self.source}” từ chối xác thực ở dịch vụ {service} "
                            "ngay cả sau khi đăng nhập lại.", source=self.source)
                    reauthentications += 1
                    auth.refresh(all_headers)
                    continue
                reauthentications = 0  # the credentials were accepted this time
                if status in _RETRY_STATUS:
                    problem = f"HTTP {status}"
                    delay = _retry_after(response)
                    if delay is not None and delay > _MAX_RETRY_AFTER:
                        raise SourceError(
                            f"Dịch vụ {service} của nguồn “{self.source}” yêu cầu chờ "
                            f"{delay:.0f} giây trước khi hỏi lại (HTTP {status}); "
                            "có thể hạn mức truy cập trong ngày của nguồn đã hết.",
                            source=self.source)
                elif status >= 400 and status not in client_errors:
                    raise SourceError(
                        f"Dịch vụ {service} của nguồn “{self.source}” trả về lỗi HTTP "
                        f"{status}: “{first_line(response.text)}”.", source=self.source)
                else:
                    try:
                        return parse(response)
                    except UnexpectedAnswer as exc:
                        problem = f"nội dung {exc.what}: “{exc.line}”"
                        if attempt >= self.max_retries:
                            raise DataError(
                                f"Dịch vụ {service} của nguồn “{self.source}” trả về nội dung "
                                f"{exc.what}: “{exc.line}” (sau {attempt + 1} lần thử).",
                                source=self.source) from None
            except httpx.TimeoutException:
                problem = "hết thời gian chờ"
            except httpx.TransportError as exc:
                self._check_cancelled()  # a request cut short by `cancel()`
                problem = f"mất kết nối ({exc.__class__.__name__})"
            if attempt >= self.max_retries:
                raise SourceError(
                    f"Dịch vụ {service} của nguồn “{self.source}” không trả lời được sau "
                    f"{attempt + 1} lần thử ({problem}).", source=self.source)
            pause = delay if delay is not None else self._backoff(attempt)
            log.info("%s: %s lỗi (%s), thử lại sau %.1f s", self.source, service, problem, pause)
            self._wait(pause)
            attempt += 1

    def _backoff(self, attempt: int) -> float:
        """Exponential backoff with full jitter, capped at a minute."""
        return random.uniform(0, min(60.0, self.retry_backoff * 2**attempt))

    def paged(self, fetch: Callable[[int], tuple[int, list[Any]]], first: int, page_size: int,
              system: str) -> Iterator[DossierPage]:
        """A paged listing: page `first` tells the total, the rest come concurrently, in order.

        Paging stops at the total or at an empty page; a listing that ends short
        of its own total is refused, so a half-read list never retires dossiers.
        """
        total, rows = fetch(first)
        yield DossierPage(rows, total)
        gathered = len(rows)
        if rows:
            for _, more in self.ordered_map(fetch, range(first + 1, first + -(-total // page_size))):
                if not more:
                    break
                gathered += len(more)
                yield DossierPage(more, total)
        if gathered < total:
            raise DataError(f"{system} báo {vi.number(total)} hồ sơ nhưng chỉ trả về "
                            f"{vi.number(gathered)}; danh sách thay đổi trong lúc đồng bộ, hãy chạy lại.",
                            source=self.source)

    # -- concurrency ------------------------------------------------------

    def ordered_map(self, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[R]:
        """Apply `fn` with up to `max_concurrency` calls in flight; yield in order.

        Up to twice that many results wait, so the pool keeps working while
        the caller stores a page.
        """
        if self.max_concurrency == 1:
            yield from map(fn, items)
            return
        with ThreadPoolExecutor(self.max_concurrency, thread_name_prefix=self.source) as pool:
            pending: deque[Future[R]] = deque()
            try:
                for item in items:
                    pending.append(pool.submit(fn, item))
                    if len(pending) >= 2 * self.max_concurrency:
                        yield pending.popleft().result()
                while pending:
                    yield pending.popleft().result()
            finally:
                for future in pending:
                    future.cancel()
