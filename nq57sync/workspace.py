"""The library's front door: configuration + plugins + store, as one object.

Every command is a thin shell over a Workspace method, so anything the CLI
does is one call away in Python.
"""

from __future__ import annotations

import datetime as dt
import itertools
import marshal
import os
import tempfile
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs
import pluggy

from nq57sync import vi
from nq57sync.config import Config, SourceConfig
from nq57sync.coverage import Coverage
from nq57sync.errors import Cancelled, ConfigError, DataError, UsageError
from nq57sync.exports import ExportedList
from nq57sync.model import METRICS, VN_TZ, Snapshot
from nq57sync.period import Period
from nq57sync.plugins import make_plugin_manager, source_classes
from nq57sync.reconcile import Reconciler, ReconcileResult
from nq57sync.rows import AGENCY_CODE, CODE, FIRST_DATE, RECEIVED_AT, Row, row_of
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
                    period: Period | None = None, *, batch_size: int | None = None
                    ) -> Imported:
        """Take a snapshot from an exported file of the source.

        `period` is the one the export was made for (the portals' export screens
        filter by period); without it, the period the file's dates determine
        (`Period.holding`). Dossiers outside the stated period are left out and
        counted; the snapshot never claims days it does not hold. `batch_size` (rows
        read and written at a time, `IMPORT_PAGE` by default) never changes the snapshot.
        """
        source = self.source(source_name)
        file = Path(path)
        if not file.is_file():
            raise UsageError(f"Không tìm thấy tệp {file}.")
        self.open_store(create=True)
        imported = source.import_file(file)
        # One pass reads the whole file before the store is touched (a bad row loses
        # nothing), learns its dates and spools its rows to a temporary file; the
        # snapshot is then written from the spool, page by page. A file plugin may hand
        # an `ExportedList` (read straight into rows), or dossiers.
        dossiers = imported.dossiers
        rows: Iterable[Row] = (dossiers.rows() if isinstance(dossiers, ExportedList)
                               else map(row_of, dossiers))
        with _Spool(file) as spool:
            for batch in _batched(rows, batch_size or IMPORT_PAGE):
                spool.add(batch)
            survey = spool.survey()
            if not survey.count and imported.period is None and period is None:
                raise DataError(f"Tệp {file.name} không có hồ sơ nào.", source=source.name)
            if period is not None:
                reason = "theo kỳ đã chỉ định (--period)"
            elif imported.period is not None:
                period, reason = imported.period, "theo kỳ ghi trong tệp"
            else:
                if survey.first is None or survey.last is None:
                    raise DataError(f"Tệp {file.name} không có ngày tiếp nhận nào để xác định "
                                    "kỳ; hãy chỉ định kỳ bằng --period.", source=source.name)
                period, reason = Period.holding(survey.first, survey.last)
            # Received days as the stored text's first ten characters: ISO dates in one
            # zone compare as text.
            first, last = period.start.isoformat(), period.end.isoformat()
            agencies = imported.agencies if imported.agencies is not None else sorted(
                {code for code, day in survey.agency_days if first <= day <= last})
            outside: list[str] = []
            with self.store.begin_snapshot(source=source.name, plugin=source.plugin,
                                           period=period, kind="import",
                                           agencies=agencies) as writer:
                writer.add_aggregates(imported.aggregates)
                for batch in spool.batches():
                    page = []
                    for row in batch:
                        received = row[RECEIVED_AT]
                        if received is not None and first <= received[:10] <= last:
                            page.append(row)
                        else:
                            outside.append(row[CODE])
                    writer.add_rows(page)
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


#: Dossiers stored per page when importing a file: pages of 5.000 kept an import of a
#: million rows under 150 MB and within 2% of the time of pages of 50.000.
IMPORT_PAGE = 5000
#: Received dates a real dossier can have: the one-stop systems began in 2015.
EARLIEST = dt.date(2015, 1, 1)


@attrs.frozen(kw_only=True)
class _Survey:
    count: int
    first: dt.date | None
    last: dt.date | None
    agency_days: frozenset[tuple[str, str]]  # (agency code, ISO received day)
    duplicates: tuple[str, ...]


class _Spool:
    """A file's rows, read once: surveyed as they pass, and kept in a temporary file
    (batches written by `marshal`, a few hundred nanoseconds a row) so the snapshot is
    written without reading the file again or holding it in memory.

    The survey checks every date a dossier from a plugin carries (a mistyped year is a
    data error naming the dossier, never a stretched period), and learns the received
    days, the agencies and the codes listed more than once. Repeats are found by the
    codes' hashes and confirmed by their codes, so a million codes take a few tens of
    megabytes, not the hundred their text would.
    """

    def __init__(self, file: Path) -> None:
        self.file = file
        self._handle = tempfile.TemporaryFile(prefix="nq57sync-import-")  # noqa: SIM115 (closed by __exit__)
        self.count = 0
        self._first: str | None = None
        self._last: str | None = None
        self._agency_days: set[tuple[str, str]] = set()
        self._hashes: set[int] = set()
        self._repeated: dict[str, None] = {}
        self._candidates: dict[int, None] = {}
        latest = dt.datetime.now(VN_TZ).date() + dt.timedelta(days=1)
        self._limits = (EARLIEST.isoformat(), latest.isoformat(),
                        dt.date(latest.year + 5, 12, 31).isoformat())

    def __enter__(self) -> _Spool:
        return self

    def __exit__(self, *exc: object) -> None:
        self._handle.close()

    def add(self, batch: Sequence[Row]) -> None:
        earliest, latest, due_limit = self._limits
        hashes, days = self._hashes, self._agency_days
        for row in batch:
            code = row[CODE]
            key = hash(code)
            if key in hashes:
                self._candidates[key] = None
            hashes.add(key)
            for offset, name in _CHECKED_DATES:
                value = row[FIRST_DATE + offset]
                if value is None:
                    continue
                day = value[:10]
                limit = latest if offset != 1 else due_limit
                if not earliest <= day <= limit:
                    raise DataError(
                        f"Tệp {self.file.name}, hồ sơ {code[:40]}: {name} "
                        f"{vi.date(dt.date.fromisoformat(day))} nằm ngoài khoảng hợp lý "
                        f"({vi.date(EARLIEST)}–{vi.date(dt.date.fromisoformat(limit))}); "
                        "hãy sửa tệp rồi nhập lại.")
            received = row[RECEIVED_AT]
            if received is not None:
                day = received[:10]
                if self._first is None or day < self._first:
                    self._first = day
                if self._last is None or day > self._last:
                    self._last = day
                days.add((row[AGENCY_CODE], day))
        self.count += len(batch)
        # Length-prefixed `marshal.dumps`: `marshal.load` on a file reads in small
        # pieces and took four times as long.
        data = marshal.dumps(batch)
        self._handle.write(len(data).to_bytes(8, "little"))
        self._handle.write(data)

    def batches(self) -> Iterator[tuple[Row, ...]]:
        """The spooled rows again, a batch at a time."""
        handle = self._handle
        handle.seek(0)
        while size := handle.read(8):
            yield marshal.loads(handle.read(int.from_bytes(size, "little")))

    def survey(self) -> _Survey:
        if self._candidates:  # confirm the hashes that repeated by the codes themselves
            counted: Counter[str] = Counter(
                row[CODE] for batch in self.batches() for row in batch
                if hash(row[CODE]) in self._candidates)
            self._repeated = dict.fromkeys(code for code, n in counted.items() if n > 1)
        return _Survey(
            count=self.count,
            first=dt.date.fromisoformat(self._first) if self._first else None,
            last=dt.date.fromisoformat(self._last) if self._last else None,
            agency_days=frozenset(self._agency_days), duplicates=tuple(self._repeated))


def _batched(items: Iterable[Row], size: int) -> Iterator[tuple[Row, ...]]:
    """`itertools.batched` (Python 3.12) for 3.11."""
    it = iter(items)
    while batch := tuple(itertools.islice(it, size)):
        yield batch


#: The dates the survey checks, by their offset from the first date field.
_CHECKED_DATES = ((0, "ngày tiếp nhận"), (1, "ngày hẹn trả"), (2, "ngày kết thúc xử lý"),
                  (3, "ngày trả kết quả"))


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
