"""The `nq57sync` command: Vietnamese for people, `--json` for programs.

Exit status (interface.md): 0 success; 2 for a usage, configuration, source
or data error, with one line on standard error that says what and where.
"""

from __future__ import annotations

import atexit
import functools
import gc
import io
import json
import logging
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from nq57sync import vi
from nq57sync.config import Config
from nq57sync.errors import Nq57Error, UsageError
from nq57sync.files import json_chunks, write_text
from nq57sync.model import Snapshot
from nq57sync.period import Period
from nq57sync.workspace import Workspace

if TYPE_CHECKING:
    from rich.console import Console

    from nq57sync.checkreport import ReportCheck


# rich is imported when something is printed, not when a command starts: the
# commands the daemon and scripts run often print one line (see `main`).
@functools.cache
def out() -> Console:
    from rich.console import Console

    return Console()


@functools.cache
def err() -> Console:
    from rich.console import Console

    return Console(stderr=True)


def config_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--config", "config_path", default="nq57sync.toml", show_default=True,
        type=click.Path(dir_okay=False, path_type=Path), help="Tệp cấu hình TOML.",
    )(fn)


def json_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--json", "as_json", is_flag=True, help="In kết quả dạng JSON.")(fn)


def period_type(value: str | Period) -> Period:
    return value if isinstance(value, Period) else Period.parse(value)


PERIOD_FORMS = "2025-11, 2025-11@nd09, 2025-Q4, 2025, 2025-11-01..2025-11-30"


def period_option(*, required: bool = True, help: str = "") -> Callable[..., Any]:
    """`--period`, declared once (as sqlite-utils shares its options)."""
    # No `default` when required: click 8.3 takes an explicit None as a given value.
    extra: dict[str, Any] = {} if required else {"default": None}
    return click.option("--period", "period", required=required, type=period_type,
                        help=help or f"Kỳ: {PERIOD_FORMS}.", **extra)


def snapshot_json(s: Snapshot) -> dict[str, Any]:
    return {
        "id": s.id, "source": s.source, "plugin": s.plugin, "kind": s.kind, "scope": s.scope,
        "period": {**s.period.as_json(), "label": s.period.label}, "state": s.state,
        "started_at": s.started_at.isoformat(),
        "finished_at": s.finished_at.isoformat() if s.finished_at else None,
        "dossiers": s.dossier_count, "aggregates": s.aggregate_count,
        "index_scores": s.index_count, "versions_added": s.versions_added,
        "content_hash": s.content_hash, "error": s.error,
    }


def print_json(data: Any) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2))


def snapshot_summary(s: Snapshot) -> str:
    return (
        f"Nguồn “{s.source}”: ảnh chụp số {s.id} ({vi.SNAPSHOT_KINDS.get(s.kind, s.kind)}), "
        f"{vi.date(s.period.start)}–{vi.date(s.period.end)}: {vi.number(s.dossier_count)} hồ sơ, "
        f"{vi.number(s.versions_added)} phiên bản mới, {vi.number(s.aggregate_count)} dòng số liệu "
        f"công bố, {vi.number(s.index_count)} dòng chỉ số 766."
    )


@click.group(context_settings={"help_option_names": ["-h", "--help"]},
             options_metavar="[TÙY_CHỌN]", subcommand_metavar="LỆNH [ĐỐI_SỐ]...")
@click.version_option(package_name="nq57sync", help="Hiện phiên bản rồi thoát.",
                      message="%(prog)s, phiên bản %(version)s")
def cli() -> None:
    """nq57sync — đối chiếu số liệu giải quyết thủ tục hành chính giữa hệ thống
    Một cửa điện tử và Cổng Dịch vụ công quốc gia.
    """


@cli.command()
@click.option("--output", type=click.Path(file_okay=False, path_type=Path),
              default=Path("nq57sync-demo"), show_default=True, help="Thư mục kết quả.")
@click.option("--serve", "serve_after", is_flag=True,
              help="Sau đó mở bảng theo dõi cho đến khi nhấn Ctrl+C.")
@click.option("--port", default=8057, show_default=True, help="Cổng của bảng theo dõi.")
def demo(output: Path, serve_after: bool, port: int) -> None:
    """Chạy thử toàn bộ: mô phỏng hai hệ thống, đồng bộ, đối chiếu, lập báo cáo.

    \b
    Ví dụ: nq57sync demo --output thu-nghiem --serve
    """
    from nq57sync.demo import run_demo

    outcome = run_demo(output, lambda line: err().print(line, highlight=False))
    result = outcome.result
    out().print(
        f"\nĐã đối chiếu {outcome.period.describe_vi().lower()}: "
        f"{vi.number(result.left_dossiers)} hồ sơ trên Một cửa, "
        f"{vi.number(result.right_dossiers)} hồ sơ trên Cổng DVCQG, "
        f"{vi.number(len(result.discrepancies))} sai lệch, "
        f"{vi.number(len(result.rule_violations))} vi phạm quy tắc số học.", highlight=False)
    for kind, count in result.by_kind().items():
        out().print(f"  - {vi.DISCREPANCY_KINDS[kind]}: {vi.number(count)}", highlight=False)
    out().print("Các tệp kết quả:", highlight=False)
    for path in outcome.files.values():
        out().print(f"  {path}", highlight=False)
    out().print(f"Kho dữ liệu (mở bằng sqlite3 hoặc datasette): {outcome.store}", highlight=False)
    out().print(f"Cấu hình của kho này: {outcome.config}; xem tiếp bằng:\n"
                  f"  nq57sync serve --config {outcome.config}\n"
                  f"  nq57sync status --config {outcome.config}", highlight=False)
    if serve_after:
        from nq57sync.config import Config
        from nq57sync.web.app import serve as run_server

        config = Config.load(outcome.config)
        run_server(config, "127.0.0.1", port, ready=_announce)


@cli.command()
@period_option()
@click.option("--source", default=None, help="Chỉ đồng bộ nguồn này.")
@config_option
@json_option
def sync(period: Period, source: str | None, config_path: Path, as_json: bool) -> None:
    """Chụp số liệu và hồ sơ của từng nguồn cho một kỳ.

    \b
    Ví dụ: nq57sync sync --period 2025-11@nd09
           nq57sync sync --period 2025-11 --source dvcqg
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Workspace.from_config(config_path) as ws:
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                      TimeElapsedColumn(), console=err(),
                      disable=as_json or not err().is_terminal) as bars:

            def progress_for(name: str) -> Callable[[int, int | None], None]:
                task = bars.add_task(f"Đồng bộ {name}", total=None)
                return lambda done, total: bars.update(task, completed=done, total=total)

            snapshots = ws.sync(period, source, progress_for)
            from nq57sync.unmapped import describe as describe_unmapped
            from nq57sync_storage.unmapped import unmapped_statuses

            unmapped = {s.id: unmapped_statuses(ws.store, s.id) for s in snapshots}
        if as_json:
            print_json([{**snapshot_json(s), "unmapped_status_ids": {
                u.id: u.count for u in unmapped[s.id]}} for s in snapshots])
        else:
            out().print(f"Đã đồng bộ {period.describe_vi().lower()}.", highlight=False)
            for s in snapshots:
                out().print(snapshot_summary(s), highlight=False)
                if unmapped[s.id]:
                    out().print("  " + describe_unmapped(unmapped[s.id], s.source), highlight=False)


@cli.command("import")
@click.option("--source", required=True, help="Tên nguồn trong cấu hình.")
@period_option(required=False,
               help="Kỳ mà tệp được xuất cho (mặc định: tháng chứa mọi ngày tiếp nhận trong tệp).")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@config_option
@json_option
def import_(source: str, period: Period | None, file: Path, config_path: Path,
            as_json: bool) -> None:
    """Chụp từ tệp xuất (.xls dạng bảng HTML, .xlsx, .csv).

    \b
    Ví dụ: nq57sync import --source dvcqg --period 2025-11 danh-sach-thang-11.xls
    """
    with Workspace.from_config(config_path) as ws:
        done = ws.import_file(source, file, period)
        if as_json:
            print_json({**snapshot_json(done.snapshot), **done.as_json()})
        else:
            out().print(f"Đã nhập tệp {file.name}. " + snapshot_summary(done.snapshot),
                          highlight=False)
            for note in done.notes_vi():
                out().print(f"  {note}", highlight=False)


@cli.command()
@click.option("--source", default=None, help="Chỉ liệt kê ảnh chụp của nguồn này.")
@click.option("--limit", default=50, show_default=True, help="Số ảnh chụp tối đa.")
@config_option
@json_option
def snapshots(source: str | None, limit: int, config_path: Path, as_json: bool) -> None:
    """Các ảnh chụp trong kho, mới nhất trước.

    \b
    Ví dụ: nq57sync snapshots --source motcua --limit 10
    """
    with Workspace.from_config(config_path) as ws:
        if source is not None:
            ws.source(source)  # an unknown name is an error that lists the known ones
        items = ws.store.snapshots(source, limit)
        if as_json:
            print_json([snapshot_json(s) for s in items])
            return
        if not items:
            out().print("Kho chưa có ảnh chụp nào.")
            return
        from rich.table import Table

        table = Table(title="Ảnh chụp trong kho", title_justify="left")
        for header, justify in [("Số", "right"), ("Nguồn", "left"), ("Loại", "left"),
                                ("Kỳ", "left"), ("Trạng thái", "left"), ("Bắt đầu", "left"),
                                ("Hồ sơ", "right"), ("Phiên bản mới", "right"), ("Ghi chú", "left")]:
            table.add_column(header, justify=justify)  # type: ignore[arg-type]
        for s in items:
            table.add_row(
                str(s.id), s.source, vi.SNAPSHOT_KINDS.get(s.kind, s.kind),
                f"{vi.date(s.period.start)}–{vi.date(s.period.end)}",
                vi.SNAPSHOT_STATES.get(s.state, s.state), vi.datetime(s.started_at),
                vi.number(s.dossier_count), vi.number(s.versions_added), s.error or "",
            )
        out().print(table)


def emit(text: str | Iterable[str], output: Path | None, what: str) -> None:
    """A command's result (whole or in pieces) on the screen, or written to `output`."""
    if output is None:
        stream = click.get_text_stream("stdout")
        stream.writelines([text] if isinstance(text, str) else text)
        stream.flush()
        return
    try:
        write_text(output, text)
    except OSError as exc:
        raise UsageError(f"Không ghi được tệp {output}: {exc.strerror or exc}.") from None
    out().print(f"Đã ghi {what} vào {output}.", highlight=False)


CSV_COLUMNS = ("id", "kind", "dossier_code", "agency_code", "procedure_code", "field", "left",
               "right", "state", "first_seen", "action")


@cli.command()
@period_option()
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table",
              show_default=True, help="Dạng kết quả.")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Ghi kết quả vào tệp thay vì màn hình.")
@click.option("--exit-code", "exit_code", is_flag=True,
              help="Thoát với mã 1 khi có sai lệch.")
@config_option
def reconcile(period: Period, fmt: str, output: Path | None, exit_code: bool,
              config_path: Path) -> None:
    """Đối chiếu hai nguồn cho một kỳ, từ các ảnh chụp phủ kỳ đó.

    \b
    Ví dụ: nq57sync reconcile --period 2025-11
           nq57sync reconcile --period 2025-Q4 --format csv --output sai-lech.csv
           nq57sync reconcile --period 2025-11 --format json --exit-code
    """
    from nq57sync.reconcile_view import render_csv, render_table

    with Workspace.from_config(config_path) as ws:
        result = ws.reconcile(period)
    if fmt == "json":
        text: Iterable[str] = json_chunks(result.as_json())
    elif fmt == "csv":
        # A byte-order mark lets Excel read a CSV's Vietnamese as UTF-8 (in a file).
        text = ("\ufeff" if output is not None else "") + render_csv(result, CSV_COLUMNS)
    else:
        text = render_table(result, width=None if output is None else 160)
    emit(text, output, "kết quả đối chiếu")
    if exit_code and result.discrepancies:
        sys.exit(1)


@cli.command("check-report")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@period_option(required=False, help="Kỳ của báo cáo (mặc định: đọc từ báo cáo, ví dụ "
               "“tháng 11/2025”, “Quý III năm 2025”).")
@click.option("--agency", default=None, help="Mã đơn vị mà báo cáo nói tới (mặc định: toàn bộ).")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "md"]), default="table",
              show_default=True)
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Ghi kết quả vào tệp thay vì in ra.")
@click.option("--annotate", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Với báo cáo .docx: ghi bản sao có chú thích Word ở mỗi số liệu sai.")
@click.option("--exit-code", "exit_code", is_flag=True,
              help="Thoát với mã 1 khi có số liệu sai.")
@config_option
def check_report(file: Path, period: Period | None, agency: str | None, fmt: str,
                 output: Path | None, annotate: Path | None, exit_code: bool,
                 config_path: Path) -> None:
    """Kiểm tra dự thảo báo cáo trước khi trình ký: cộng tổng, tỷ lệ, số ghi lặp, và đối
    chiếu số liệu với hai hệ thống.

    \b
    Ví dụ: nq57sync check-report bao-cao-thang-11.docx
           nq57sync check-report bao-cao.pdf --period 2025-11 --format json
           nq57sync check-report bao-cao.docx --annotate bao-cao-chu-thich.docx --exit-code
    """
    from nq57sync import checkreport

    # Without a configuration the report's own arithmetic is still checked.
    config = Config.load(config_path) if config_path.exists() else Config.from_dict({})
    with Workspace(config) as ws:
        result = ws.check_report(file, period=period, agency=agency)
    if fmt == "json":
        text: Iterable[str] = json_chunks(result.as_json())
    elif fmt == "md":
        text = checkreport.render_markdown(result)
    else:
        text = _check_table(result)
    if annotate is not None:
        checkreport.annotate(result, checkreport.read_document(file), annotate)
    emit(text, output, "kết quả kiểm tra")
    if annotate is not None:
        out().print(f"Đã ghi bản có chú thích vào {annotate}.", highlight=False)
    if exit_code and result.count("mismatch"):
        sys.exit(1)


def _check_table(result: ReportCheck) -> str:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=f"Kiểm tra báo cáo {escape(result.path.name)}", show_lines=False)
    for name in vi.REPORT_CHECK_COLUMNS:
        table.add_column(name, overflow="fold")
    for c in result.by_severity():
        table.add_row(str(c.line), vi.REPORT_CHECK_KINDS[c.kind],
                      vi.REPORT_CHECK_STATUSES[c.status], escape(c.stated), escape(c.computed),
                      escape(c.message))
    period = result.period_vi("dùng --period") + "\n"
    summary = result.summary_vi() + "\n"
    page = Console(width=160, record=True, file=io.StringIO())
    page.print(table)
    return period + page.export_text() + summary


@cli.command()
@period_option()
@click.option("--format", "fmt", type=click.Choice(["docx", "xlsx", "html", "md"]), default=None,
              help="Định dạng (mặc định: theo đuôi tệp --output).")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Tệp báo cáo cần ghi.")
@config_option
def report(period: Period, fmt: str | None, output: Path, config_path: Path) -> None:
    """Lập báo cáo cho Trung tâm Phục vụ hành chính công.

    \b
    Ví dụ: nq57sync report --period 2025-11@nd09 --output bao-cao.docx
    """
    with Workspace.from_config(config_path) as ws:
        result = ws.reconcile(period)
        written = ws.report(result, output, fmt)
    out().print(f"Đã lập báo cáo {written} ({len(result.discrepancies)} sai lệch, "
                  f"{period.describe_vi().lower()}).", highlight=False)


@cli.command()
@click.option("--log-file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Ghi nhật ký vào tệp (mặc định: màn hình).")
@config_option
def daemon(log_file: Path | None, config_path: Path) -> None:
    """Chạy lịch đồng bộ, đối chiếu, báo cáo cho đến khi bị dừng (Ctrl+C, SIGTERM).

    \b
    Ví dụ: nq57sync daemon --log-file nq57sync.log
    """
    import faulthandler
    import logging
    import signal

    from nq57sync.daemon import Daemon

    faulthandler.register(signal.SIGUSR1)  # `kill -USR1 <pid>` prints every thread's stack

    handler = (logging.FileHandler(log_file, encoding="utf-8") if log_file
               else logging.StreamHandler())
    handler.setFormatter(VietnamTimeFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.INFO, handlers=[handler])
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    with Workspace.from_config(config_path) as ws:
        Daemon(ws, say=lambda line: err().print(line, highlight=False)).run_forever()


@cli.command()
@click.option("--host", default=None, help="Địa chỉ lắng nghe (mặc định 127.0.0.1).")
@click.option("--port", default=None, type=int, help="Cổng (mặc định 8057).")
@config_option
def serve(host: str | None, port: int | None, config_path: Path) -> None:
    """Bảng theo dõi trên trình duyệt.

    \b
    Ví dụ: nq57sync serve --port 8057
    """
    from nq57sync.config import Config
    from nq57sync.web.app import serve as run_server

    config = Config.load(config_path)
    host, port = host or config.serve.host, port or config.serve.port
    run_server(config, host, port, ready=_announce)


@cli.command()
@config_option
@json_option
def status(config_path: Path, as_json: bool) -> None:
    """Lần chạy trước và sau của từng việc, tình trạng nguồn, sai lệch đang mở.

    \b
    Ví dụ: nq57sync status --json
    """
    from nq57sync.status import collect

    with Workspace.from_config(config_path) as ws:
        info = collect(ws)
    if as_json:
        print_json(info)
        return
    from rich.table import Table

    jobs = Table(title="Các việc theo lịch", title_justify="left")
    for header in ("Việc", "Lần chạy trước", "Kết quả", "Lỗi liên tiếp", "Lần chạy tới", "Ghi chú"):
        jobs.add_column(header)

    def when(text: str | None) -> str:
        import datetime as dt

        return vi.datetime(dt.datetime.fromisoformat(text)) if text else "—"

    for j in info["jobs"]:
        jobs.add_row(vi.job_name(j["job"]), when(j["last_run"]),
                     vi.JOB_STATUSES.get(j["last_status"], j["last_status"] or "—"),
                     str(j["failures"]), when(j["next_run"]), j["last_error"] or "")
    out().print(jobs if info["jobs"] else "Daemon chưa chạy lần nào trên kho này.")
    sources = Table(title="Tình trạng nguồn", title_justify="left")
    for header in ("Nguồn", "Ảnh chụp gần nhất", "Hoàn tất lúc", "Lỗi liên tiếp",
                   "Yêu cầu hôm nay", "Tình trạng"):
        sources.add_column(header)
    for s in info["sources"]:
        sources.add_row(
            vi.source_name(s["source"]),
            f"số {s['last_snapshot']} ({vi.SNAPSHOT_STATES.get(s['last_state'], '—')})"
            if s["last_snapshot"] else "—", when(s["last_complete_at"]),
            str(s["consecutive_failures"]),
            f"{vi.number(s['requests_today'])}/"
            + (vi.number(s["request_budget"]) if s["request_budget"] is not None else "—"),
            "tốt" if s["healthy"] else f"lỗi: {s['last_error'] or 'xem nhật ký'}")
    out().print(sources)
    open_ = info["open_discrepancies"]
    kinds = ", ".join(f"{vi.DISCREPANCY_KINDS.get(k, k)}: {vi.number(n)}"
                      for k, n in open_["by_kind"].items())
    out().print(f"Sai lệch đang mở: {vi.number(open_['total'])}"
                  + (f" ({kinds})" if kinds else ""), highlight=False)
    out().print(f"Kho dữ liệu: {info['store']['path']}, "
                  f"{vi.number(info['store']['bytes'] / 1e6, 1)} MB, "
                  f"{vi.number(info['store']['snapshots'])} ảnh chụp.", highlight=False)


@cli.command()
@click.option("--online", is_flag=True,
              help="Thử kết nối lần đầu tới từng nguồn: đăng nhập, gọi mỗi dịch vụ một lần "
                   "(tối đa 20 yêu cầu, chỉ đọc, không ghi vào kho).")
@config_option
@json_option
def doctor(online: bool, config_path: Path, as_json: bool) -> None:
    """Kiểm tra kho dữ liệu và cấu hình (không cần mạng); --online: kiểm tra kết nối.

    \b
    Ví dụ: nq57sync doctor --config nq57sync-demo/nq57sync.toml
           nq57sync doctor --online
    """
    from nq57sync.doctor import run_checks, run_online

    report = run_online(config_path) if online else run_checks(config_path)
    if as_json:
        print_json(report.as_json())
    else:
        for check in report.checks:
            mark = "[green]✓[/]" if check.ok else "[red]✗[/]"
            out().print(f"{mark} {check.title}: {check.detail}", highlight=False)
        out().print(
            ("Các nguồn trả lời như mong đợi." if online else "Kho dữ liệu và cấu hình ổn.")
            if report.healthy else "Có vấn đề cần xử lý (xem các dòng ✗ ở trên)."
        )
    if not report.healthy:
        sys.exit(2)


class VietnamTimeFormatter(logging.Formatter):
    """Log times in Vietnam time (UTC+07:00) with the offset, whatever the machine's zone."""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        import datetime as dt

        from nq57sync.model import VN_TZ

        when = dt.datetime.fromtimestamp(record.created, VN_TZ)
        return when.strftime(datefmt) if datefmt else when.isoformat(timespec="seconds")


def _announce(url: str) -> None:
    out().print(f"Bảng theo dõi: {url} (Ctrl+C để dừng)", highlight=False)


def _usage_message(exc: click.ClickException) -> str:
    """Click's own messages are English; say the common ones in Vietnamese."""
    if isinstance(exc, click.MissingParameter) and exc.param is not None:
        return f"Thiếu tùy chọn {exc.param.get_error_hint(exc.ctx)}."  # type: ignore[arg-type]
    if isinstance(exc, click.NoSuchOption):
        return f"Không có tùy chọn {exc.option_name}."
    if isinstance(exc, click.BadParameter) and exc.param is not None:
        hint = exc.param.get_error_hint(exc.ctx)  # type: ignore[arg-type]
        message = exc.message
        for english, vietnamese in ((" integer ", " số nguyên "), (" float ", " số thực ")):
            message = message.replace(english, vietnamese)
        return f"Giá trị không hợp lệ cho {hint}: {message}"
    return exc.format_message()


def _speak_vietnamese(group: click.Group) -> None:
    """click's messages through its gettext hooks, and placeholders, in Vietnamese.

    click marks every message with `gettext` and looks each up when it is shown;
    each of its modules holds that function as `_` (and `ngettext`), so the
    catalogue in `vi.CLICK_MESSAGES` is installed there. Messages it lacks stay
    as click wrote them.
    """
    import importlib

    def gettext(message: str) -> str:
        return vi.CLICK_MESSAGES.get(message, message)

    def ngettext(singular: str, plural: str, n: int) -> str:
        return gettext(singular if n == 1 else plural)

    for name in ("core", "decorators", "exceptions", "formatting", "parser", "types", "utils",
                 "termui"):
        module = importlib.import_module(f"click.{name}")
        if hasattr(module, "_"):
            module._ = gettext  # type: ignore[attr-defined]
        if hasattr(module, "ngettext"):
            module.ngettext = ngettext  # type: ignore[attr-defined]
    for command in group.commands.values():
        command.options_metavar = "[TÙY_CHỌN]"
        for param in command.params:
            if isinstance(param, click.Option) and not param.is_flag and param.metavar is None:
                kind = getattr(param.type, "name", "")
                if isinstance(param.type, click.types.FuncParamType):
                    kind = param.type.func.__name__
                param.metavar = vi.METAVARS.get(kind.lower(), param.metavar)
            elif isinstance(param, click.Argument) and param.metavar is None:
                param.metavar = vi.METAVARS.get(getattr(param.type, "name", ""), None)


def main(argv: list[str] | None = None) -> None:
    """Run the command; the project's errors become one line on stderr and exit 2."""
    # At exit, CPython collects every object still alive, modules included: 0,1 s
    # of a 0,6 s commune reconcile (measured). Frozen objects are left to the OS.
    atexit.unregister(gc.freeze)
    atexit.register(gc.freeze)
    # A command builds hundreds of thousands of objects that live to its end, and the
    # cyclic collector (every 700 allocations) walked them again and again: a quarter of
    # a re-run reconcile of 25,000 discrepancies (1,4–1,6 s, 1,05–1,1 s without it).
    # As mypy does, collect rarely; what the imports made is never garbage.
    gc.freeze()
    gc.set_threshold(200_000, 30, 30)
    _speak_vietnamese(cli)
    try:
        cli.main(args=argv, prog_name="nq57sync", standalone_mode=False)
    except Nq57Error as exc:
        err().print(f"Lỗi: {exc}", markup=False, highlight=False, soft_wrap=True)
        sys.exit(exc.exit_code)
    except click.exceptions.NoArgsIsHelpError as exc:
        click.echo(exc.ctx.get_help())
        sys.exit(2)
    except click.ClickException as exc:
        err().print(f"Lỗi: {_usage_message(exc)} (xem --help)", markup=False,
                          highlight=False, soft_wrap=True)
        sys.exit(2)
    except (KeyboardInterrupt, click.Abort):
        err().print("Đã dừng theo yêu cầu; không có ảnh chụp dở dang nào được lưu.")
        sys.exit(130)


if __name__ == "__main__":
    main()
