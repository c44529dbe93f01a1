"""The library's front door: configuration + plugins + store, as one object.

Every command is a thin shell over a Workspace method, so anything the CLI
does is one call away in Python.
"""

from __future__ import annotations

import datetime as dt
import os
import threading
from collections.abc import Callable
from pathlib import Path

import pluggy

from nq57sync.config import Config, SourceConfig
from nq57sync.errors import Cancelled, ConfigError, DataError, UsageError
from nq57sync.http import RequestBudget, SourceClient, tls_context
from nq57sync.model import Snapshot
from nq57sync.period import Period
from nq57sync.plugins import make_plugin_manager, source_plugin_names
from nq57sync.reconcile import Reconciler, ReconcileResult
from nq57sync_storage import Store

#: Called with (dossiers stored so far, total announced by the source or None).
Progress = Callable[[int, int | None], None]


class Workspace:
    """A configured nq57sync: sources validated by their plugins, a store on demand."""

    def __init__(self, config: Config, pm: pluggy.PluginManager | None = None) -> None:
        self.config = config
        self.pm = pm or make_plugin_manager()
        self.sources = {s.name: self._validate(s) for s in config.sources}
        self._store: Store | None = None

    @classmethod
    def from_config(cls, path: str | os.PathLike[str], pm: pluggy.PluginManager | None = None
                    ) -> Workspace:
        return cls(Config.load(path), pm)

    def _validate(self, source: SourceConfig) -> SourceConfig:
        # The core's keys first, so a wrong type fails now, not in the middle of a sync.
        for key in ("requests_per_second", "daily_request_budget", "max_concurrency",
                    "connect_timeout", "read_timeout", "max_retries", "retry_backoff",
                    "ca_bundle", "agencies"):
            getattr(source, key)
        settings = self.pm.hook.nq57sync_validate_source(source=source)
        if settings is None:
            known = ", ".join(source_plugin_names(self.pm)) or "(chưa cài plugin nào)"
            raise source.config_error(
                "plugin", f"chỉ tới plugin “{source.plugin}” chưa được cài; các plugin có: {known}")
        return SourceConfig(source.name, source.plugin, source.options, source.config_path,
                            dict(settings))

    @property
    def store(self) -> Store:
        if self._store is None:
            self._store = Store(self.config.store_path)
        return self._store

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def source(self, name: str) -> SourceConfig:
        self.config.source(name)  # the error that lists known names
        return self.sources[name]

    def client_for(self, source: SourceConfig) -> SourceClient:
        """The polite HTTP client a plugin receives; plugins never open their own."""
        ca_bundle = source.ca_bundle
        if ca_bundle is not None and not ca_bundle.is_file():
            raise source.config_error("ca_bundle", f"chỉ tới tệp không tồn tại ({ca_bundle})")
        budget = RequestBudget(self.store.path, source.name, source.daily_request_budget)
        return SourceClient(
            source.name,
            requests_per_second=source.requests_per_second,
            max_concurrency=source.max_concurrency,
            connect_timeout=source.connect_timeout,
            read_timeout=source.read_timeout,
            max_retries=source.max_retries,
            retry_backoff=source.retry_backoff,
            budget=budget,
            verify=tls_context(str(ca_bundle) if ca_bundle else None),
        )

    # -- commands ---------------------------------------------------------

    def sync(self, period: Period, source: str | None = None,
             progress: Callable[[str], Progress] | None = None,
             cancel: threading.Event | None = None) -> list[Snapshot]:
        """Take a snapshot of each (or one) source for the period."""
        names = [source] if source else list(self.sources)
        if not names:
            raise ConfigError(f"Tệp cấu hình {self.config.path} chưa khai báo nguồn [[source]] nào.")
        return [self.sync_source(self.source(n), period, progress(n) if progress else None,
                                 cancel) for n in names]

    def sync_source(self, source: SourceConfig, period: Period,
                    progress: Progress | None = None,
                    cancel: threading.Event | None = None) -> Snapshot:
        hook = self.pm.hook
        with self.client_for(source) as client, self.store.begin_snapshot(
            source=source.name, plugin=source.plugin, period=period, agencies=source.agencies,
        ) as writer:
            writer.add_aggregates(
                hook.nq57sync_fetch_aggregates(source=source, period=period, client=client) or [])
            writer.add_index_scores(
                hook.nq57sync_fetch_index_scores(source=source, period=period, client=client)
                or [])
            done = 0
            for page in hook.nq57sync_fetch_dossiers(
                    source=source, period=self._fetch_period(source, period), client=client) or []:
                if cancel is not None and cancel.is_set():
                    raise Cancelled(f"Lượt đồng bộ nguồn “{source.name}” đã dừng theo yêu cầu; "
                                    "không lưu dữ liệu dở dang.")
                done += writer.add_dossiers(page.dossiers)
                if progress:
                    progress(done, page.total)
        assert writer.result is not None
        return writer.result

    def reconcile(self, period: Period, *, record: bool = True) -> ReconcileResult:
        """Compare the newest complete snapshots of `left` and `right` for the period.

        Only the store is read: a reader without the sources' settings (the
        dashboard of a demo) can reconcile what was synced.
        """
        return Reconciler(self.store, self.config, self.pm).run(period, record=record)

    def report(self, result: ReconcileResult, path: str | os.PathLike[str],
               fmt: str | None = None) -> Path:
        """Write the report for the Trung tâm PVHCC (docx, xlsx, html or md by suffix)."""
        from nq57sync import reports

        content = reports.build(result, self.store, self.config, self.pm)
        return reports.write(content, Path(path), fmt)

    def _fetch_period(self, source: SourceConfig, period: Period) -> Period:
        """The right side's copies are looked for beyond the period's edges."""
        margin = dt.timedelta(days=self.config.reconcile.lookaround_days)
        if source.name != self.config.reconcile.right or not margin:
            return period
        return Period(period.start - margin, period.end + margin, "range")

    def import_file(self, source_name: str, path: str | os.PathLike[str]) -> Snapshot:
        """Take a snapshot from an exported file of the source."""
        source = self.source(source_name)
        file = Path(path)
        if not file.is_file():
            raise UsageError(f"Không tìm thấy tệp {file}.")
        imported = self.pm.hook.nq57sync_import_file(source=source, path=file)
        if imported is None:
            raise UsageError(f"Plugin “{source.plugin}” của nguồn “{source.name}” không nhập được tệp.")
        # The whole file is parsed before the store is touched: a bad row loses nothing.
        dossiers = list(imported.dossiers)
        if not dossiers and imported.period is None:
            raise DataError(f"Tệp {file.name} không có hồ sơ nào.", source=source.name)
        period = imported.period or _span_of(dossiers, file)
        agencies = imported.agencies if imported.agencies is not None else sorted(
            {d.agency.code for d in dossiers})
        with self.store.begin_snapshot(source=source.name, plugin=source.plugin, period=period,
                                       kind="import", agencies=agencies) as writer:
            writer.add_aggregates(imported.aggregates)
            writer.add_dossiers(dossiers)
        assert writer.result is not None
        return writer.result


def _span_of(dossiers: list, file: Path) -> Period:
    days = [d.received_at.date() for d in dossiers if d.received_at is not None]
    if not days:
        raise DataError(f"Tệp {file.name} không có ngày tiếp nhận nào để xác định kỳ.")
    return Period(min(days), max(days), "range")
