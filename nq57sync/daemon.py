"""`nq57sync daemon`: the schedule of the configuration, run until stopped.

APScheduler 3 drives the triggers; jobs run one at a time on one worker (the
store has one writer), each run is remembered in the store so a restart
catches up on what it missed, and a job that fails is backed off and alerted
about, never allowed to stop the daemon. SIGTERM and SIGINT stop it cleanly:
a pull in flight is abandoned at the next page and leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import logging
import os
import signal
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import IO, Any

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, JobExecutionEvent
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from nq57sync import alerts, vi
from nq57sync.errors import Cancelled, Nq57Error, UsageError
from nq57sync.files import sweep_scratch
from nq57sync.listen import listen, port_error
from nq57sync.model import VN_TZ
from nq57sync.period import Period
from nq57sync.workspace import Workspace

log = logging.getLogger("nq57sync.daemon")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _timezone() -> dt.tzinfo:
    try:
        from zoneinfo import ZoneInfo

        return ZoneInfo("Asia/Ho_Chi_Minh")
    except Exception:
        return VN_TZ


def make_trigger(spec: str, jitter: int) -> BaseTrigger:
    """"interval 6h" or "cron m h dom mon dow" (validated by the configuration)."""
    kind, rest = spec.split(None, 1)
    tz = _timezone()
    if kind == "interval":
        seconds = float(rest[:-1]) * _UNITS[rest[-1]]
        return IntervalTrigger(seconds=seconds, jitter=jitter or None, timezone=tz)
    minute, hour, day, month, day_of_week = rest.split()
    return CronTrigger(minute=minute, hour=hour, day=day, month=month, day_of_week=day_of_week,
                       jitter=jitter or None, timezone=tz)


def in_quiet_hours(spec: str, now: dt.datetime) -> dt.datetime | None:
    """When the quiet hours around `now` end, or None if `now` is not in them."""
    if not spec:
        return None
    start_s, end_s = spec.split("-")
    start, end = (dt.time.fromisoformat(start_s), dt.time.fromisoformat(end_s))
    t = now.timetz().replace(tzinfo=None)
    inside = start <= t < end if start < end else (t >= start or t < end)
    if not inside:
        return None
    end_day = now.date() if t < end else now.date() + dt.timedelta(days=1)
    return dt.datetime.combine(end_day, end, now.tzinfo)


class StoreLock:
    """One daemon per store: an exclusive lock on a file beside it."""

    def __init__(self, store: Path) -> None:
        self.path = store.with_name(store.name + ".daemon.lock")
        self._file: IO[str] | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = self.path.open("a+", encoding="utf-8")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.seek(0)
            owner = handle.read().strip() or "?"
            handle.close()
            raise UsageError(
                f"Đã có một nq57sync daemon khác (PID {owner}) đang chạy trên kho "
                f"{self.path.with_suffix('').with_suffix('')}; mỗi kho chỉ chạy một daemon.") from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        self._file = handle

    def release(self) -> None:
        if self._file is not None:
            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
            self._file = None


def _serialised(method: Callable[..., None]) -> Callable[..., None]:
    def run(self: Daemon, *args: Any) -> None:
        with self._store_lock:
            method(self, *args)

    run.__name__ = method.__name__
    run.__doc__ = method.__doc__
    return run


class Daemon:
    def __init__(self, ws: Workspace, *, say: Callable[[str], None] = log.info) -> None:
        self.ws = ws
        self.schedule = ws.config.schedule
        self.say = say
        self.stopping = threading.Event()
        self.channels = alerts.channels(ws.config, ws.pm)
        self.scheduler = BackgroundScheduler(
            executors={"default": ThreadPoolExecutor(1)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 24 * 3600},
            timezone=_timezone())
        self.scheduler.add_listener(self._after_job, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR)
        self.lock = StoreLock(ws.config.store_path)
        self.failed_jobs = 0
        self._budget_alerted: set[tuple[str, str]] = set()
        self._health: ThreadingHTTPServer | None = None
        self._dashboard: Any = None
        # The store has one connection; jobs run one at a time, but the scheduler's
        # listener and start-up touch it from other threads.
        self._store_lock = threading.RLock()

    # -- lifecycle ------------------------------------------------------------

    def start(self) -> None:
        """Lock the store, schedule the jobs, open the status port and the dashboard.

        A failure after the scheduler started (a port in use, a dashboard refused)
        stops it — waiting for a catch-up job already running — before the error
        leaves: the store must never close under a running job.
        """
        self.lock.acquire()
        try:
            with self._store_lock:
                self._start_locked()
        except BaseException:
            self.stop()
            raise

    def _start_locked(self) -> None:
        store = self.ws.open_store(create=True)  # the daemon fills it
        recovered = store.recover_interrupted()
        sweep_scratch()  # scratch folders of reconciliations killed while the daemon was down
        if recovered:
            self.say(f"Đã đánh dấu {len(recovered)} lượt đồng bộ bị gián đoạn lần trước là thất bại.")
        jitter = self.schedule.jitter_seconds
        remembered = {row["job_id"]: row for row in store.jobs()}
        now = dt.datetime.now(_timezone())
        for name in self.ws.sources:
            spec = self.schedule.source_sync.get(name, self.schedule.sync)
            self._add(f"sync:{name}", lambda name=name: self.sync_job(name), make_trigger(spec, jitter),
                      remembered, now)
        for i, spec in enumerate(self.schedule.reports):
            self._add(f"report:{i}", self.report_job, make_trigger(spec, jitter), remembered, now)
        self._add("prune", self.prune_job, make_trigger("interval 1d", jitter), remembered, now,
                  catch_up=False)
        self.scheduler.start()
        self._persist_next_runs_locked()
        if self.schedule.status_port:
            self._start_health(self.schedule.status_port)
        if self.ws.config.serve.in_daemon:
            self._start_dashboard()
        self.say(f"nq57sync daemon đã chạy: {len(self.scheduler.get_jobs())} việc theo lịch "
                 f"trên kho {store.path}.")

    def _add(self, job_id: str, func: Callable[[], None], trigger: BaseTrigger,
             remembered: dict[str, dict[str, Any]], now: dt.datetime, catch_up: bool = True) -> None:
        """Schedule a job; run it at once if a run was missed while the daemon was down."""
        row = remembered.get(job_id)
        missed = catch_up and (row is None or row.get("last_run") is None or (
            row.get("next_run") is not None
            and dt.datetime.fromisoformat(row["next_run"]) <= now))
        options: dict[str, Any] = {"id": job_id, "name": job_id, "replace_existing": True}
        if missed:
            options["next_run_time"] = now
        self.scheduler.add_job(func, trigger, **options)

    def stop(self) -> None:
        """Finish or abandon what runs (no partial snapshot), then stop."""
        self.stopping.set()
        if self.scheduler.running:
            with contextlib.suppress(Exception):
                self.scheduler.shutdown(wait=True)
        if self._health is not None:
            self._health.shutdown()
            self._health.server_close()
        if self._dashboard is not None:
            self._dashboard.should_exit = True
        self.lock.release()

    def run_forever(self) -> None:
        def request_stop(signum: int, _frame: object) -> None:
            self.say("Nhận tín hiệu dừng: hoàn tất hoặc bỏ dở an toàn việc đang chạy …")
            self.stopping.set()

        signal.signal(signal.SIGTERM, request_stop)
        signal.signal(signal.SIGINT, request_stop)
        self.start()  # stops what it started if it fails
        try:
            while not self.stopping.wait(1.0):
                with contextlib.suppress(Nq57Error):
                    self._persist_next_runs()  # for `nq57sync status` and catching up
        finally:
            self.stop()
        self.say("nq57sync daemon đã dừng.")

    # -- jobs -----------------------------------------------------------------

    def periods(self) -> list[Period]:
        today = dt.datetime.now(VN_TZ).date()
        return [Period.resolve(spec, today) for spec in self.schedule.periods]

    @_serialised
    def sync_job(self, name: str) -> None:
        job_id = f"sync:{name}"
        if self.stopping.is_set():
            return
        store = self.ws.store
        now = dt.datetime.now(_timezone())
        quiet_end = in_quiet_hours(self.schedule.quiet_hours, now)
        if quiet_end is not None:
            self.scheduler.add_job(lambda: self.sync_job(name), "date", run_date=quiet_end,
                                   id=f"{job_id}:deferred", replace_existing=True)
            store.record_job(job_id, "skipped", f"giờ yên lặng, dời đến {vi.datetime(quiet_end)}")
            return
        row = next((r for r in store.jobs() if r["job_id"] == job_id), None)
        failures = int(row["failures"]) if row else 0
        if failures and row and row["last_run"]:
            wait = min(6 * 3600, self.schedule.failure_backoff_seconds * 2 ** (failures - 1))
            if (now - dt.datetime.fromisoformat(row["last_run"])).total_seconds() < wait:
                store.record_job(job_id, "skipped", f"đang giãn cách sau {failures} lần lỗi")
                return
        left = self.ws.budget_left(name)
        if left < self.schedule.min_budget_left:
            key = (name, dt.datetime.now(VN_TZ).date().isoformat())
            if key not in self._budget_alerted:
                self._budget_alerted.add(key)
                self._alert("budget", f"Nguồn “{name}” sắp hết hạn mức yêu cầu",
                            f"Nguồn “{name}” chỉ còn {vi.number(left)} yêu cầu trong ngày; các lượt "
                            "đồng bộ tạm dừng đến ngày mai.", source=name, remaining=left)
            store.record_job(job_id, "skipped", "hạn mức yêu cầu trong ngày sắp hết")
            return
        try:
            for period in self.periods():
                self.ws.sync(period, name, cancel=self.stopping)
        except Cancelled as exc:
            # Stopping is not the source's fault: its failure count stays as it was.
            store.record_job(job_id, "cancelled", str(exc))
            return
        except Exception as exc:
            message = str(exc) if isinstance(exc, Nq57Error) else exc.__class__.__name__
            failures = store.record_job(job_id, "failed", message)
            self.failed_jobs += 1
            self.say(f"Đồng bộ nguồn “{name}” lỗi (lần {failures} liên tiếp): {message}")
            if failures >= self.ws.config.alerts.source_failures:
                self._alert("source_failing", f"Nguồn “{name}” lỗi {failures} lần liên tiếp",
                            message, source=name, failures=failures)
            return
        store.record_job(job_id, "ok")
        self.say(f"Đã đồng bộ nguồn “{name}”.")
        self.reconcile_job()

    @_serialised
    def reconcile_job(self) -> None:
        """After a round of syncs: when both sides have a snapshot newer than the last run."""
        store = self.ws.store
        rc = self.ws.config.reconcile
        if rc.left not in self.ws.sources or rc.right not in self.ws.sources:
            return
        for period in self.periods():
            covers = self.ws.reconcilable(period)
            if covers is None:
                continue
            left, right = covers["left"].newest, covers["right"].newest
            assert left is not None and right is not None
            if store.reconciled(left.id, right.id, period):
                continue
            try:
                result = self.ws.reconcile(period)
            except Exception as exc:
                store.record_job("reconcile", "failed",
                                 str(exc) if isinstance(exc, Nq57Error) else exc.__class__.__name__)
                self.failed_jobs += 1
                continue
            store.record_job("reconcile", "ok")
            new = [d for d in result.discrepancies if d.state == "new"]
            self.say(f"Đã đối chiếu {period.label}: {len(result.discrepancies)} sai lệch "
                     f"({len(new)} mới).")
            if new and len(new) >= self.ws.config.alerts.new_discrepancies:
                kinds = {}
                for d in new:
                    kinds[vi.DISCREPANCY_KINDS[d.kind]] = kinds.get(vi.DISCREPANCY_KINDS[d.kind], 0) + 1
                self._alert(
                    "new_discrepancies", f"{vi.number(len(new))} sai lệch mới ({period.label})",
                    "; ".join(f"{k}: {vi.number(n)}" for k, n in kinds.items()),
                    period=period.label, count=len(new), run=result.run_id)

    @_serialised
    def report_job(self) -> None:
        store = self.ws.store
        written: list[Path] = []
        for period in self.periods():
            if self.ws.reconcilable(period) is None:
                continue
            try:
                # A report reads: the reconcile job records runs, this one only writes files.
                result = self.ws.reconcile(period, record=False)
                for fmt in self.schedule.report_formats:
                    written.append(self.ws.report(
                        result, self.schedule.report_dir / f"bao-cao-{period.label}.{fmt}"))
            except Exception as exc:
                store.record_job("report", "failed",
                                 str(exc) if isinstance(exc, Nq57Error) else exc.__class__.__name__)
                self.failed_jobs += 1
                return
        store.record_job("report", "ok" if written else "skipped",
                         None if written else "chưa có ảnh chụp để lập báo cáo")
        if written:
            self._alert("report", "Đã lập báo cáo đối chiếu",
                        "Báo cáo: " + ", ".join(p.name for p in written),
                        attachment=written[0], files=[str(p) for p in written])

    @_serialised
    def prune_job(self) -> None:
        removed = self.ws.store.prune(self.schedule.retention_days)
        self.ws.store.record_job("prune", "ok")
        self.say(f"Dọn kho: bỏ {vi.number(removed['versions'])} phiên bản hồ sơ cũ hơn "
                 f"{self.schedule.retention_days} ngày.")

    # -- plumbing ---------------------------------------------------------------

    def _alert(self, kind: str, title: str, message: str, **data: Any) -> None:
        alerts.send(alerts.make_alert(kind, title, message, **data), self.channels)

    def _after_job(self, event: JobExecutionEvent) -> None:
        # Runs on the worker thread: never touch the scheduler or the store here (the
        # scheduler's shutdown holds its lock while it waits for this very thread).
        if event.exception is not None:
            self.failed_jobs += 1
            log.error("Việc %s lỗi: %s", event.job_id, event.exception.__class__.__name__)

    def _persist_next_runs(self) -> None:
        with self._store_lock:
            self._persist_next_runs_locked()

    def _persist_next_runs_locked(self) -> None:
        for job in self.scheduler.get_jobs():
            if ":deferred" not in job.id:
                self.ws.store.set_next_run(job.id, job.next_run_time)

    def _start_dashboard(self) -> None:
        """`[serve] in_daemon = true`: the dashboard in a thread of the daemon."""
        import uvicorn

        from nq57sync.web.app import create_app

        serve = self.ws.config.serve
        app = create_app(self.ws.config, host=serve.host)
        listening = listen(serve.host, serve.port, "bảng theo dõi ([serve] port)")
        server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
        threading.Thread(target=server.run, kwargs={"sockets": [listening]}, daemon=True,
                         name="dashboard").start()
        self._dashboard = server
        self.say(f"Bảng theo dõi: http://{serve.host}:{serve.port}/")

    def _start_health(self, port: int) -> None:
        from nq57sync.status import collect

        config = self.ws.config
        pm = self.ws.pm

        class Health(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                if self.path != "/healthz":
                    self.send_error(404)
                    return
                with Workspace(config, pm) as reader:
                    body = json.dumps(collect(reader), ensure_ascii=False).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        try:
            self._health = ThreadingHTTPServer(("127.0.0.1", port), Health)
        except OSError as exc:
            raise port_error(port, "trạng thái ([schedule] status_port)", exc) from None
        threading.Thread(target=self._health.serve_forever, daemon=True).start()


__all__ = ["Daemon", "StoreLock", "in_quiet_hours", "make_trigger"]
