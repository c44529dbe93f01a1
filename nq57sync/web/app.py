"""The dashboard: a Starlette app that reads the store and renders Jinja2 pages.

It writes nothing: reports are computed through `Workspace` without recording a
run, the same content as `nq57sync report`. What it protects against:

- script injection: every template value is escaped (Jinja autoescape on for
  every template, whatever its name), and a Content-Security-Policy lets run
  only the page's own script, by a per-response nonce;
- framing and sniffing: `X-Frame-Options: DENY`, `frame-ancestors 'none'`,
  `X-Content-Type-Options: nosniff`, `Referrer-Policy: no-referrer`;
- DNS rebinding: a request whose `Host` is not loopback, the configured host or
  one of `[serve] allowed_hosts` gets 400;
- off loopback (any address but 127.0.0.0/8, ::1, localhost; "" and 0.0.0.0
  included) every request needs the password from the environment (401), and
  repeated failures from one client are slowed down and logged, without the
  guess. Without TLS (`[serve] tls_cert`, `tls_key`) the password crosses the
  network in clear.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import datetime as dt
import functools
import ipaddress
import logging
import os
import secrets
import shutil
import tempfile
import urllib.parse
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import attrs
import jinja2
import pluggy
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.convertors import PathConvertor, register_url_convertor
from starlette.datastructures import UploadFile as StarletteUpload
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.templating import Jinja2Templates

from nq57sync import vi
from nq57sync.config import Config
from nq57sync.errors import ConfigError, DataError, Nq57Error, PeriodError, UsageError
from nq57sync.listen import listen
from nq57sync.period import Period
from nq57sync.plugins import make_plugin_manager
from nq57sync.reconcile import KINDS
from nq57sync.reports import charts
from nq57sync.reports.content import INDEX_GROUPS_VI, INDEX_MAXIMA, Chart
from nq57sync.rules import METRIC_NAMES_VI
from nq57sync.workspace import Workspace
from nq57sync_storage import dashboard as queries

TEMPLATES = Path(__file__).resolve().parent.parent / "templates" / "web"
COMPARED = ("status", "channel", "procedure_code", "agency_code", "received_at", "due_at",
            "finished_at", "returned_at")


log = logging.getLogger("nq57sync.web")


class _Anything(PathConvertor):
    """A dossier code as it is, line breaks included (`path` stops before a final one)."""

    regex = r"[\s\S]+"


register_url_convertor("anything", _Anything())
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1", "[::1]")


def is_loopback(host: str) -> bool:
    """Only true loopback addresses; "" and 0.0.0.0 bind every interface."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class HostCheck(BaseHTTPMiddleware):
    """400 for a `Host` the dashboard is not served as (DNS rebinding)."""

    def __init__(self, app: Any, allowed: tuple[str, ...]) -> None:
        super().__init__(app)
        self.allowed = frozenset(h.lower().strip("[]") for h in allowed)

    async def dispatch(self, request: Request,
                       call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        header = request.headers.get("host", "").lower()
        name = header[1:header.find("]")] if header.startswith("[") else header.partition(":")[0]
        if name not in self.allowed:
            return PlainTextResponse("Tên máy chủ không hợp lệ.", status_code=400)
        return await call_next(request)


class SecurityHeaders(BaseHTTPMiddleware):
    """A nonce for the page's own script, and headers that forbid everything else."""

    async def dispatch(self, request: Request,
                       call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        nonce = secrets.token_urlsafe(16)
        request.state.csp_nonce = nonce
        response = await call_next(request)
        response.headers["Content-Security-Policy"] = (
            f"default-src 'self'; script-src 'nonce-{nonce}'; style-src 'self' 'unsafe-inline';"
            " img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self';"
            " frame-ancestors 'none'")
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        return response


class PasswordGate(BaseHTTPMiddleware):
    """HTTP Basic with the password from the environment; any user name.

    After `FREE_FAILURES` failures a client waits before each answer, doubling
    up to `MAX_DELAY` seconds; every failure is logged with the client's
    address, never the guess.
    """

    FREE_FAILURES = 3
    MAX_DELAY = 8.0

    def __init__(self, app: Any, password: str) -> None:
        super().__init__(app)
        self.password = password.encode()
        self.failures: dict[str, int] = {}

    async def dispatch(self, request: Request,
                       call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        client = request.client.host if request.client else "?"
        header = request.headers.get("authorization", "")
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "basic":
            try:
                _, _, given = base64.b64decode(value).partition(b":")
            except (binascii.Error, ValueError):
                given = b""
            if secrets.compare_digest(given, self.password):
                self.failures.pop(client, None)
                return await call_next(request)
            count = self.failures[client] = self.failures.get(client, 0) + 1
            if len(self.failures) > 10_000:  # bounded memory under a spray of addresses
                self.failures.clear()
            log.warning("Bảng theo dõi: sai mật khẩu từ %s (lần %d liên tiếp).", client, count)
            if count > self.FREE_FAILURES:
                await asyncio.sleep(min(self.MAX_DELAY, 0.25 * 2 ** (count - self.FREE_FAILURES)))
        return PlainTextResponse("Cần đăng nhập để xem bảng theo dõi.", status_code=401,
                                 headers={"WWW-Authenticate": 'Basic realm="nq57sync"'})


def _value(field: str, row: dict[str, Any] | None) -> str:
    return "—" if row is None else vi.field_value(field, None if row.get(field) is None
                                                  else str(row.get(field)))


def create_app(config: Config, *, host: str = "127.0.0.1") -> Starlette:
    """The dashboard for one configuration; `host` is where it will listen."""
    middleware = [Middleware(HostCheck, allowed=(*LOOPBACK_NAMES, host,
                                                 *config.serve.allowed_hosts)),
                  Middleware(SecurityHeaders)]
    if not is_loopback(host):
        password = os.environ.get(config.serve.password_env, "")
        if not password:
            raise ConfigError(
                f"Bảng theo dõi mở ra ngoài máy ({host}) cần mật khẩu trong biến môi trường "
                f"“{config.serve.password_env}” (khóa serve.password_env).")
        middleware.append(Middleware(PasswordGate, password=password))
    charts.warm_up()  # import the plotting library now, not on the first page load
    # Autoescape for every template: Starlette's default turns it on only for names
    # ending in .html, and these end in .html.j2.
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), autoescape=True)
    env.globals.update(vi=vi, KIND_VI=vi.DISCREPANCY_KINDS, STATE_VI=vi.DISCREPANCY_STATES,
                       FIELD_NAMES_VI=vi.FIELD_NAMES,
                       METRIC_NAMES_VI=METRIC_NAMES_VI, KINDS=KINDS, INDEX_GROUPS_VI=INDEX_GROUPS_VI,
                       fmt_dt=lambda t: vi.datetime(dt.datetime.fromisoformat(t)) if t else "—",
                       action_for=lambda d: vi.advice(d["kind"], d["base_kind"], d["field"],
                                                    d["left_value"], d["right_value"],
                                                    config.reconcile.sync_grace_hours,
                                                    config.reconcile.left, config.reconcile.right))

    app = Starlette(routes=ROUTES, middleware=middleware)
    app.state.dashboard = DashboardState(config, make_plugin_manager(), Jinja2Templates(env=env))
    return app


@attrs.frozen
class DashboardState:
    """What every endpoint reads from `request.app.state.dashboard`."""

    config: Config
    pm: pluggy.PluginManager
    templates: Jinja2Templates


def _state(request: Request) -> DashboardState:
    return request.app.state.dashboard  # type: ignore[no-any-return]


@functools.lru_cache(maxsize=64)
def svg(chart: Chart) -> str:
    return charts.svg(chart)

def choose_period(request: Request, ws: Workspace) -> tuple[Period | None, list[Period]]:
    known = queries.periods(ws.store)
    text = request.query_params.get("ky", "").strip()
    if text:
        return Period.parse(text), known
    return (known[0] if known else None), known

def render(request: Request, name: str, status: int = 200, **context: Any) -> Response:
    return _state(request).templates.TemplateResponse(request, name, context,
                                                      status_code=status)

def failure(request: Request, message: str, status: int) -> Response:
    return render(request, "error.html.j2", status=status, message=message, ky="",
                  periods=[], period=None, stamp={"snapshot": 0, "run": 0})

def page(handler: Callable[..., Response]) -> Callable[..., Response]:
    """Open a workspace per request; the project's errors become a readable page."""

    def run(request: Request, *args: Any) -> Response:
        state = _state(request)
        try:
            with Workspace(state.config, state.pm) as ws:
                return handler(request, ws, *args)
        except PeriodError as exc:
            return failure(request, str(exc), 400)
        except Nq57Error as exc:
            return failure(request, str(exc), 500)

    return run

def common(request: Request, ws: Workspace) -> dict[str, Any]:
    period, known = choose_period(request, ws)
    run = queries.latest_run(ws.store, period) if period else None
    return {"period": period, "periods": known, "run": run,
            "ky": f"{period.start}..{period.end}" if period else "",
            "names": queries.agency_names(ws.store, run) if run else {},
            "stamp": queries.version_stamp(ws.store)}

@page
def overview(request: Request, ws: Workspace) -> Response:
    ctx = common(request, ws)
    run = ctx["run"]
    rows, chart_svgs = [], []
    if run:
        details = run["details"]
        # The run keeps the published figures it compared (runs recorded before it did:
        # read again from their snapshots).
        published: dict[str, dict[str, dict[str, int]]] = details.get("published") or {
            side: {a.agency.code: a.metrics() for a in ws.store.aggregates(
                run[f"{side}_snapshot"]) if a.period.same_span(ctx["period"])}
            for side in ("left", "right")}
        impact = {i["agency_code"]: i for i in details.get("impact", [])}
        agencies = sorted(set(details.get("figures", {}).get("left", {}))
                          | set(published["left"]) | set(published["right"]))
        for code in agencies:
            rows.append({"code": code, "name": ctx["names"].get(code, code),
                         "views": [(label, src.get(code)) for label, src in (
                             (vi.source_name(run["left"]["source"], short=True)
                              + " (công bố)", published["left"]),
                             (vi.source_name(run["right"]["source"], short=True)
                              + " (công bố)", published["right"]),
                             ("Đối chiếu (từ hồ sơ)", details["figures"]["left"]))],
                         "impact": impact.get(code)})
        by_kind = run["summary"]["by_kind"]
        chart_svgs = [svg(period_chart(queries.period_trend(ws.store))),
                      svg(Chart("by_kind", "Sai lệch theo loại", "bar",
                                tuple(vi.DISCREPANCY_KINDS[k] for k in by_kind),
                                (("Số sai lệch", tuple(float(v) for v in by_kind.values())),)))]
    return render(request, "overview.html.j2", rows=rows, charts=chart_svgs,
                  share=lambda m: _shares(m), **ctx)

@page
def discrepancies(request: Request, ws: Workspace) -> Response:
    ctx = common(request, ws)
    q = request.query_params
    page_text = q.get("trang", "1").strip() or "1"
    if not page_text.isdigit() or len(page_text) > 9:
        return failure(request, f"Số trang “{page_text[:20]}” không hợp lệ.", 400)
    filters = queries.Filters(agency=q.get("don_vi", ""), kind=q.get("loai", ""),
                              procedure=q.get("thu_tuc", "").strip(),
                              state=q.get("tinh_trang", "open"),
                              page=max(1, int(page_text)))
    rows, total, by_kind, by_agency = [], 0, [], []
    if ctx["run"]:
        rows, total = queries.discrepancy_page(ws.store, ctx["run"], filters)
        by_kind = queries.counts(ws.store, ctx["run"], filters, "kind")
        by_agency = queries.counts(ws.store, ctx["run"], filters, "agency_code")
    pages = max(1, -(-total // queries.PAGE_SIZE))
    return render(request, "discrepancies.html.j2", rows=rows, total=total, filters=filters,
                  pages=pages, by_kind=by_kind, by_agency=by_agency, **ctx)

@page
def dossier_page(request: Request, ws: Workspace) -> Response:
    code = request.path_params["code"]
    rc = _state(request).config.reconcile
    found = queries.dossier(ws.store, code, rc.left, rc.right)
    if not found["left"] and not found["right"]:
        return failure(request, f"Không có hồ sơ “{code}” trong kho.", 404)
    fields = [(f, vi.FIELD_NAMES.get(f, f), _value(f, found["left"]), _value(f, found["right"]))
              for f in COMPARED]
    return render(request, "dossier.html.j2", code=code, fields=fields, found=found,
                  left=rc.left, right=rc.right, **common(request, ws))

@page
def trends(request: Request, ws: Workspace) -> Response:
    ctx = common(request, ws)
    opened = queries.opened_and_resolved(ws.store)
    index = queries.index_trend(ws.store)
    svgs = []
    periods_trend = queries.period_trend(ws.store)
    if periods_trend:
        svgs.append(svg(period_chart(periods_trend)))
    if opened:
        svgs.append(svg(Chart("opened", "Sai lệch phát sinh và được khắc phục theo ngày", "line",
                              tuple(f"{r['day'][8:]}/{r['day'][5:7]}" for r in opened),
                              (("Phát sinh", tuple(float(r["opened"]) for r in opened)),
                               ("Khắc phục", tuple(float(r["resolved"]) for r in opened))))))
    if index:
        svgs.append(svg(Chart("index", "Điểm trung bình nhóm chỉ số 766 qua các ảnh chụp", "line",
                              tuple(f"số {e['id']}" for e in index),
                              tuple((INDEX_GROUPS_VI[g], tuple(e["groups"].get(g, 0.0)
                                                                for e in index))
                                    for g in INDEX_MAXIMA))))
    return render(request, "trends.html.j2", charts=svgs, **ctx)

@page
def health(request: Request, ws: Workspace) -> Response:
    from nq57sync.status import collect

    return render(request, "health.html.j2", info=collect(ws), **common(request, ws))

@page
def download(request: Request, ws: Workspace) -> Response:
    fmt = request.path_params["fmt"]
    period, _ = choose_period(request, ws)
    if period is None or fmt not in ("docx", "xlsx", "html", "md"):
        return failure(request, "Chưa có kỳ nào được đối chiếu.", 404)
    # Reading never writes: an unrecorded computation, states as the store knows them.
    result = ws.reconcile(period, record=False)
    folder = Path(tempfile.mkdtemp(prefix="nq57sync-report-"))
    try:
        path = ws.report(result, folder / f"bao-cao-{period.start}-{period.end}.{fmt}")
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return FileResponse(path, filename=path.name,
                        background=BackgroundTask(shutil.rmtree, folder, ignore_errors=True))

@page
def stamp(request: Request, ws: Workspace) -> Response:
    return JSONResponse(queries.version_stamp(ws.store))


#: A draft report is a few megabytes; a bigger upload is refused before it is read.
MAX_UPLOAD = 20 * 1024 * 1024
UPLOAD_SUFFIXES = (".docx", ".pdf", ".md", ".txt")


@attrs.frozen
class Upload:
    """A report received by the check page, kept in a private folder while it is checked."""

    name: str                 # as the browser sent it (shown, never used as a path)
    path: Path
    period: str
    agency: str


async def check_report_page(request: Request) -> Response:
    """Upload a draft report; its findings beside its text (`Workspace.check_report`).

    Reading only: the file lives in a private temporary folder for the request.
    """
    if request.method == "GET":
        return await run_in_threadpool(_check_report, request, None)
    # Only this dashboard's own form (with `Referrer-Policy: no-referrer` a browser sends
    # `Origin: null` even for it; `Sec-Fetch-Site` still tells who sent the request).
    origin = request.headers.get("origin", "null")
    if request.headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none") or (
            origin != "null" and urllib.parse.urlsplit(origin).netloc != request.headers.get("host")):
        return PlainTextResponse("Yêu cầu từ trang khác bị từ chối.", status_code=403)
    folder = Path(tempfile.mkdtemp(prefix="nq57sync-check-"))
    try:
        upload = await _receive(request, folder)
        if isinstance(upload, str):
            return await run_in_threadpool(failure, request, upload, 400)
        return await run_in_threadpool(_check_report, request, upload)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


async def _receive(request: Request, folder: Path) -> Upload | str:
    """The uploaded file copied into `folder` (at most `MAX_UPLOAD` bytes), or why not."""
    declared = request.headers.get("content-length", "")
    if not declared.isdigit():
        return "Trình duyệt không cho biết kích thước tệp; hãy tải lên lại."
    if int(declared) > MAX_UPLOAD + 65_536:
        return f"Tệp lớn hơn {vi.number(MAX_UPLOAD // 2**20)} MB; hãy tải lên bản báo cáo nhỏ hơn."
    async with request.form(max_files=1, max_fields=4) as form:
        file = form.get("tep")
        if not isinstance(file, StarletteUpload) or not file.filename:
            return "Chưa chọn tệp báo cáo (.docx, .pdf, .md, .txt)."
        suffix = Path(file.filename).suffix.lower()
        if suffix not in UPLOAD_SUFFIXES:
            return (f"Chỉ kiểm tra được báo cáo dạng {', '.join(UPLOAD_SUFFIXES)}; "
                    f"tệp đã chọn có đuôi “{suffix[:12]}”.")
        path = folder / f"bao-cao{suffix}"
        size = 0
        with path.open("wb") as out:
            while chunk := await file.read(1 << 16):
                size += len(chunk)
                if size > MAX_UPLOAD:
                    return (f"Tệp lớn hơn {vi.number(MAX_UPLOAD // 2**20)} MB; "
                            "hãy tải lên bản báo cáo nhỏ hơn.")
                out.write(chunk)
        return Upload(file.filename[:200], path, str(form.get("ky", "")).strip()[:60],
                      str(form.get("don_vi", "")).strip()[:60])


@page
def _check_report(request: Request, ws: Workspace, upload: Upload | None) -> Response:
    result = None
    if upload is not None:
        period = Period.parse(upload.period) if upload.period else None
        try:
            result = ws.check_report(upload.path, period=period, agency=upload.agency or None)
        except (DataError, UsageError) as exc:  # the file's fault, said with the file's own name
            return failure(request, str(exc).replace(upload.path.name, upload.name), 400)
    return render(request, "check_report.html.j2", result=result, upload=upload,
                  marks=result.worst_by_line() if result else {}, **common(request, ws))


ROUTES = [
    Route("/", overview), Route("/sai-lech", discrepancies),
    Route("/ho-so/{code:anything}", dossier_page), Route("/xu-huong", trends),
    Route("/nguon", health), Route("/bao-cao/{fmt}", download),
    Route("/kiem-tra-bao-cao", check_report_page, methods=["GET", "POST"]),
    Route("/api/phien-ban", stamp),
]


def period_chart(rows: list[dict[str, Any]]) -> Chart:
    """Received, resolved and late per reconciled period (from the runs' own figures)."""
    return Chart("periods", "Hồ sơ theo kỳ đã đối chiếu (tính từ hồ sơ)", "line",
                 tuple(r["label"] for r in rows),
                 (("Tiếp nhận", tuple(float(r["received"]) for r in rows)),
                  ("Đã giải quyết", tuple(float(r["resolved"]) for r in rows)),
                  ("Giải quyết quá hạn", tuple(float(r["late"]) for r in rows))), "Số hồ sơ")


def _shares(m: dict[str, int] | None) -> tuple[str, str]:
    if not m:
        return "—", "—"
    new = m["received_online"] + m["received_direct"] + m["received_postal"]
    return (vi.percent(vi.share(m["received_online"], new)),
            vi.percent(vi.share(m["resolved_early"] + m["resolved_on_time"], m["resolved_total"])))


def serve(config: Config, host: str, port: int,
          ready: Callable[[str], None] | None = None) -> None:
    """Serve until stopped; `ready` hears the address once the port is open."""
    import uvicorn

    app = create_app(config, host=host)
    tls = config.serve
    if (tls.tls_cert is None) != (tls.tls_key is None):
        raise ConfigError("Cần khai báo cả serve.tls_cert và serve.tls_key để bật HTTPS.")
    listening = listen(host, port, "bảng theo dõi")  # a busy port: one sentence, exit 2
    if ready is not None:
        scheme = "https" if tls.tls_cert else "http"
        ready(f"{scheme}://{f'[{host}]' if ':' in host else host or '0.0.0.0'}:{port}/")
    server = uvicorn.Server(uvicorn.Config(
        app, log_level="warning", ssl_certfile=str(tls.tls_cert) if tls.tls_cert else None,
        ssl_keyfile=str(tls.tls_key) if tls.tls_key else None))
    server.run(sockets=[listening])


__all__ = ["create_app", "is_loopback", "serve"]
