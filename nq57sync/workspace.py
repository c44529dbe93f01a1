"""The library's front door: configuration + plugins + store, as one object.

Every command is a thin shell over a Workspace method, so anything the CLI
does is one call away in Python.
"""

from __future__ import annotations

import datetime as dt
import os
import threading
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs
import pluggy

from nq57sync import vi
from nq57sync.config import Config, SourceConfig
from nq57sync.coverage import Coverage
from nq57sync.errors import Cancelled, ConfigError, DataError, UsageError
from nq57sync.model import METRICS, VN_TZ, Dossier, Snapshot
from nq57sync.period import Period
from nq57sync.plugins import make_plugin_manager, source_classes
from nq57sync.reconcile import Reconciler, ReconcileResult
from nq57sync.sources import Source

if TYPE_CHECKING:
    from nq57sync.checkreport import Reference, ReportCheck

    # Imported by the commands that send requests: a reconcile starts without httpx.
    from nq57sync.http import SourceClient
from nq57sync_storage import Store

#: Called with (dossiers stored so far, total announced by the source or None).
Progress = Callable[[int, int | None], None]


class Workspace:
    """A configured nq57sync: sources validated by their plugins, a store on demand."""

    def __init__(self, config: Config, pm: pluggy.PluginManager | None = None) -> None:
        self.config = config
        self.pm = pm or make_plugin_manager()
        self.source_classes = source_classes(self.pm)
        self.sources = {s.name: self._build(s) for s in config.sources}
        self._store: Store | None = None

    @classmethod
    def from_config(cls, path: str | os.PathLike[str], pm: pluggy.PluginManager | None = None
                    ) -> Workspace:
        return cls(Config.load(path), pm)

    def _build(self, config: SourceConfig) -> Source:
        """The configured source as its plugin's object, its options validated now.

        The core's keys first, so a wrong type fails now, not in the middle of a sync.
        """
        for key in ("requests_per_second", "daily_request_budget", "max_concurrency",
                    "connect_timeout", "read_timeout", "max_retries", "retry_backoff",
                    "max_response_mb", "ca_bundle", "agencies"):
            getattr(config, key)
        cls = self.source_classes.get(config.plugin)
        if cls is None:
            known = ", ".join(sorted(self.source_classes)) or "(chưa cài plugin nào)"
            raise config.config_error(
                "plugin", f"chỉ tới plugin “{config.plugin}” chưa được cài; các plugin có: {known}")
        source = cls.from_config(config)
        vi.name_source(config.name, cls.display_name, cls.short_name)
        return source

    @property
    def store(self) -> Store:
        """The store; it must exist (a path typed wrong must not pass as an empty store)."""
        return self.open_store(create=False)

    def open_store(self, *, create: bool) -> Store:
        """The store, created on first use only by what fills it (sync, import, the daemon)."""
        if self._store is None:
            path = self.config.store_path
            if not create and not path.exists():
                where = f" (khóa [store] path trong {self.config.path})" if self.config.path else ""
                raise UsageError(
                    f"Chưa có kho dữ liệu {path}{where}; hãy chạy nq57sync sync hoặc nq57sync "
                    "import trước, hoặc sửa đường dẫn kho.")
            self._store = Store(path)
        return self._store

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def source(self, name: str) -> Source:
        self.config.source(name)  # the error that lists known names
        return self.sources[name]

    def budget_used(self, name: str) -> int:
        """Requests the source has spent today (the store keeps the count)."""
        from nq57sync.http import RequestBudget

        budget = RequestBudget(self.store.path, name, 0)
        try:
            return budget.used()
        finally:
            budget.close()

    def budget_left(self, name: str) -> int:
        """Requests the source may still send today under its `daily_request_budget`."""
        return max(0, self.source(name).config.daily_request_budget - self.budget_used(name))

    def client_for(self, source: Source,
                   cancel: threading.Event | None = None) -> SourceClient:
        """The polite HTTP client a plugin receives; plugins never open their own.

        With `cancel`, setting the event stops the pull within a fraction of a
        second: waits and requests in flight are abandoned (`Cancelled`).
        """
        from nq57sync.http import RequestBudget, SourceClient, tls_context

        settings = source.config
        ca_bundle = settings.ca_bundle
        if ca_bundle is not None and not ca_bundle.is_file():
            raise settings.config_error("ca_bundle", f"chỉ tới tệp không tồn tại ({ca_bundle})")
        budget = RequestBudget(self.open_store(create=True).path, source.name,
                               settings.daily_request_budget)
        return SourceClient(
            source.name,
            requests_per_second=settings.requests_per_second,
            max_concurrency=settings.max_concurrency,
            connect_timeout=settings.connect_timeout,
            read_timeout=settings.read_timeout,
            max_retries=settings.max_retries,
            retry_backoff=settings.retry_backoff,
            budget=budget,
            verify=tls_context(str(ca_bundle) if ca_bundle else None),
            cancel=cancel,
            max_response_mb=settings.max_response_mb,
        )

    # -- commands ---------------------------------------------------------

    def sync(self, period: Period, source: str | None = None,
             progress: Callable[[str], Progress] | None = None,
             cancel: threading.Event | None = None) -> list[Snapshot]:
        """Take a snapshot of each (or one) source for the period."""
        names = [source] if source else list(self.sources)
        if not names:
            raise ConfigError(f"Tệp cấu hình {self.config.path} chưa khai báo nguồn [[source]] nào.")
        self.open_store(create=True)
        return [self.sync_source(self.source(n), period, progress(n) if progress else None,
                                 cancel) for n in names]

    def sync_source(self, source: Source, period: Period,
                    progress: Progress | None = None,
                    cancel: threading.Event | None = None) -> Snapshot:
        self.open_store(create=True)
        fetched = self._fetch_period(source, period)
        # The snapshot holds what was listed: for the right side, the days around the
        # period too, so its copies there count as read (and can be retired).
        with self.client_for(source, cancel) as client, self.store.begin_snapshot(
            source=source.name, plugin=source.plugin, period=fetched,
            agencies=source.config.agencies,
        ) as writer:
            writer.add_aggregates(source.aggregates(period, client))
            writer.add_index_scores(source.index_scores(period, client))
            done = 0
            for page in source.dossiers(fetched, client):
                if cancel is not None and cancel.is_set():
                    raise Cancelled(f"Lượt đồng bộ nguồn “{source.name}” đã dừng theo yêu cầu; "
                                    "không lưu dữ liệu dở dang.")
                done += writer.add_dossiers(page.dossiers)
                if progress:
                    progress(done, page.total)
        assert writer.result is not None
        return writer.result

    def reconcile(self, period: Period, *, record: bool = True) -> ReconcileResult:
        """Compare the snapshots of `left` and `right` that cover the period.

        Only the store is read: a reader without the sources' settings (the
        dashboard of a demo) can reconcile what was synced. With `record=False`
        nothing is written (a report download, a preview): each discrepancy
        carries the state the store knows for it.
        """
        reconciler = Reconciler(self.store, self.config, self.pm)
        result = reconciler.run(period, record=record)
        return result if record else reconciler.preview(result)

    def reconcilable(self, period: Period) -> dict[str, Coverage] | None:
        """Both sides' snapshots that cover the period, or None while one side lacks days."""
        reconciler = Reconciler(self.store, self.config, self.pm)
        try:
            return reconciler.covers(period)
        except UsageError:
            return None

    def report(self, result: ReconcileResult, path: str | os.PathLike[str],
               fmt: str | None = None) -> Path:
        """Write the report for the Trung tâm PVHCC (docx, xlsx, html or md by suffix)."""
        from nq57sync import reports

        content = reports.build(result, self.store, self.config, self.pm)
        return reports.write(content, Path(path), fmt)

    def check_report(self, path: str | os.PathLike[str], period: Period | None = None,
                     agency: str | None = None) -> ReportCheck:
        """Check a draft report (.docx, .md, .txt, .pdf): its arithmetic, and with a period
        (given, or read from the report) each figure the store holds, against both sources.

        Reading only: the reconciliation behind it is not recorded.
        """
        from nq57sync import checkreport

        file = Path(path)
        if not file.is_file():
            raise UsageError(f"Không tìm thấy tệp {file}.")
        document = checkreport.read_document(file)
        reason = "theo kỳ đã chỉ định"
        if period is None:
            period, reason = checkreport.period_in_text(document.lines)
        reference = None
        if period is not None and self.config.store_path.exists():
            covers = self.reconcilable(period)
            if covers is not None:
                reference = _reference(self.reconcile(period, record=False), agency)
            else:
                reason += "; kho chưa có đủ dữ liệu kỳ này nên chưa đối chiếu với hệ thống"
        return checkreport.check(document, reference, period=period, period_reason=reason)

    def _fetch_period(self, source: Source, period: Period) -> Period:
        """The right side's copies are looked for beyond the period's edges."""
        if source.name != self.config.reconcile.right:
            return period
        return period.widened(self.config.reconcile.lookaround_days)

    def import_file(self, source_name: str, path: str | os.PathLike[str],
                    period: Period | None = None) -> Imported:
        """Take a snapshot from an exported file of the source.

        `period` is the one the export was made for (the portals' export screens
        filter by period); without it, the period the file's dates determine
        (`Period.holding`). Dossiers outside the stated period are left out and
        counted; the snapshot never claims days it does not hold.
        """
        source = self.source(source_name)
        file = Path(path)
        if not file.is_file():
            raise UsageError(f"Không tìm thấy tệp {file}.")
        self.open_store(create=True)
        imported = source.import_file(file)
        # A first pass reads the whole file before the store is touched (a bad row loses
        # nothing) and learns its dates; the second stores it page by page. A file
        # plugin may stream (bounded memory) or hand a list.
        dossiers = imported.dossiers
        if iter(dossiers) is dossiers:  # a one-shot iterator: keep it to read twice
            dossiers = list(dossiers)
        survey = _survey(dossiers, file)
        if not survey.count and imported.period is None and period is None:
            raise DataError(f"Tệp {file.name} không có hồ sơ nào.", source=source.name)
        if period is not None:
            reason = "theo kỳ đã chỉ định (--period)"
        elif imported.period is not None:
            period, reason = imported.period, "theo kỳ ghi trong tệp"
        else:
            if survey.first is None or survey.last is None:
                raise DataError(f"Tệp {file.name} không có ngày tiếp nhận nào để xác định kỳ; "
                                "hãy chỉ định kỳ bằng --period.", source=source.name)
            period, reason = Period.holding(survey.first, survey.last)
        inside = period

        def within(d: Dossier) -> bool:
            return d.received_at is not None and inside.contains(d.received_at.date())

        agencies = imported.agencies if imported.agencies is not None else sorted(
            {code for code, day in survey.agency_days if inside.contains(day)})
        outside: list[str] = []
        with self.store.begin_snapshot(source=source.name, plugin=source.plugin, period=period,
                                       kind="import", agencies=agencies) as writer:
            writer.add_aggregates(imported.aggregates)
            page: list[Dossier] = []
            for d in dossiers:
                if not within(d):
                    outside.append(d.code)
                    continue
                page.append(d)
                if len(page) == IMPORT_PAGE:
                    writer.add_dossiers(page)
                    page = []
            writer.add_dossiers(page)
        assert writer.result is not None
        duplicates = survey.duplicates
        return Imported(writer.result, reason, tuple(outside), duplicates)


@attrs.frozen
class Imported:
    """An imported file: its snapshot, why it has its period, and what was left out."""

    snapshot: Snapshot
    period_reason: str
    outside: tuple[str, ...] = ()           # codes of dossiers dated outside the period
    duplicates: tuple[str, ...] = ()        # codes listed more than once (the last row kept)

    def notes_vi(self) -> list[str]:
        period = self.snapshot.period
        out = [f"Kỳ của ảnh chụp: {vi.date(period.start)}–{vi.date(period.end)} "
               f"({period.label}), {self.period_reason}."]
        if self.outside:
            out.append(f"Bỏ qua {vi.number(len(self.outside))} hồ sơ có ngày tiếp nhận ngoài kỳ "
                       f"(ví dụ {', '.join(self.outside[:3])}).")
        if self.duplicates:
            out.append(f"{vi.number(len(self.duplicates))} mã hồ sơ xuất hiện nhiều lần trong tệp; "
                       f"giữ dòng cuối cùng của mỗi mã (ví dụ {', '.join(self.duplicates[:3])}).")
        return out

    def as_json(self) -> dict[str, Any]:
        return {"period_reason": self.period_reason, "outside_period": list(self.outside),
                "duplicates": list(self.duplicates)}


#: Dossiers stored per page when importing a file.
IMPORT_PAGE = 5000
#: Received dates a real dossier can have: the one-stop systems began in 2015.
EARLIEST = dt.date(2015, 1, 1)


@attrs.frozen
class _Survey:
    count: int
    first: dt.date | None
    last: dt.date | None
    agency_days: frozenset[tuple[str, dt.date]]
    duplicates: tuple[str, ...]


def _survey(dossiers: Iterable[Dossier], file: Path) -> _Survey:
    """One pass over a file's dossiers: dates, agencies, repeated codes, implausible dates.

    A mistyped year is a data error naming the dossier, never a stretched period.
    """
    latest = dt.datetime.now(VN_TZ).date() + dt.timedelta(days=1)
    count, first, last = 0, None, None
    agency_days: set[tuple[str, dt.date]] = set()
    seen: set[str] = set()
    repeated: dict[str, None] = {}
    for d in dossiers:
        count += 1
        if d.code in seen:
            repeated[d.code] = None
        seen.add(d.code)
        for name, value in (("ngày tiếp nhận", d.received_at), ("ngày hẹn trả", d.due_at),
                            ("ngày kết thúc xử lý", d.finished_at),
                            ("ngày trả kết quả", d.returned_at)):
            if value is None:
                continue
            day = value.date()
            limit = latest if name != "ngày hẹn trả" else dt.date(latest.year + 5, 12, 31)
            if not EARLIEST <= day <= limit:
                raise DataError(f"Tệp {file.name}, hồ sơ {d.code[:40]}: {name} {vi.date(day)} "
                                f"nằm ngoài khoảng hợp lý ({vi.date(EARLIEST)}–{vi.date(limit)}); "
                                "hãy sửa tệp rồi nhập lại.")
        if d.received_at is not None:
            day = d.received_at.date()
            first = day if first is None or day < first else first
            last = day if last is None or day > last else last
            agency_days.add((d.agency.code, day))
    return _Survey(count, first, last, frozenset(agency_days), tuple(repeated))


def _reference(result: ReconcileResult, agency: str | None) -> Reference:
    """Both sides' figures for a report's check: published for the period when both sides
    published it, else recomputed from their dossiers; summed over agencies unless one is asked."""
    from nq57sync.checkreport import Reference

    published = result.published
    basis = published if published["left"] and published["right"] else result.figures
    if agency is not None and agency not in basis["left"] and agency not in basis["right"]:
        raise UsageError(f"Kỳ {result.period.label} không có số liệu của đơn vị “{agency}”.")
    values = {}
    for side in ("left", "right"):
        rows = [m for code, m in basis[side].items() if agency in (None, code)]
        values[side] = {k: sum(row.get(k, 0) for row in rows) for k in METRICS}
    kinds = {d.id: d.kind for d in result.discrepancies}
    explanations = {}
    for metric in METRICS:
        ids = tuple(i for a in result.aggregates if a.metric == metric
                    and agency in (None, a.agency_code) for i in a.explained_by)
        if ids:
            counted = Counter(kinds[i] for i in ids if i in kinds)
            explanations[metric] = (ids, ", ".join(
                f"{vi.number(n)} sai lệch “{vi.DISCREPANCY_KINDS[k].lower()}”"
                for k, n in counted.most_common()))
    names = {side: vi.source_name(getattr(result, side).source, short=True)
             for side in ("left", "right")}
    return Reference(names, values, explanations)
