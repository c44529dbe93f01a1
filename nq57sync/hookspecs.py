"""Plugin hook specifications: every way a plugin can extend nq57sync.

Plugins are modules (or packages) registered in the ``nq57sync`` entry-point
group, exactly as the built-in ``dvcqg`` and ``motcua`` plugins are::

    [project.entry-points.nq57sync]
    myportal = "nq57sync_myportal"

They implement any of these hooks with ``@nq57sync.hookimpl``.

Source hooks are routed by the ``plugin = "…"`` key of a ``[[source]]``
table: an implementation returns ``None`` when ``source.plugin`` is not one of
its own names, and the first non-``None`` answer wins. Source plugins never
open their own HTTP connections; the core hands them a ready
:class:`nq57sync.http.SourceClient` that enforces timeouts, politeness, the
request budget and retries, and keeps secrets out of logs.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from nq57sync.config import Config, SourceConfig
    from nq57sync.hooktypes import (
        AlertChannel,
        ConsistencyRule,
        DossierPage,
        ImportedFile,
        ReportSection,
    )
    from nq57sync.http import SourceClient
    from nq57sync.model import AggregateRow, IndexScore
    from nq57sync.period import Period

hookspec = pluggy.HookspecMarker("nq57sync")


@hookspec
def nq57sync_source_plugins() -> list[str]:
    """The source plugin names this module provides (values of ``plugin =``)."""


@hookspec(firstresult=True)
def nq57sync_validate_source(source: SourceConfig) -> Mapping[str, Any] | None:
    """Check ``source.options`` and return the settings the plugin will use.

    Raise :class:`nq57sync.errors.ConfigError` through ``source.config_error``
    so the message names the key, the source and the configuration file. Keys
    shared by every source (``name``, ``plugin``, ``requests_per_second``,
    ``daily_request_budget``, ``ca_bundle``, ``agencies``, …) are the core's.
    """


@hookspec(firstresult=True)
def nq57sync_fetch_aggregates(
    source: SourceConfig, period: Period, client: SourceClient
) -> list[AggregateRow] | None:
    """The standard-form figures the source publishes for ``period``.

    Return ``[]`` if the source publishes none. Each row carries the period the
    source actually counted, which may differ from the one asked for (DVCQG
    counts by calendar month).
    """


@hookspec(firstresult=True)
def nq57sync_fetch_index_scores(
    source: SourceConfig, period: Period, client: SourceClient
) -> list[IndexScore] | None:
    """The 766 index lines the source publishes for ``period`` (``[]`` if none)."""


@hookspec(firstresult=True)
def nq57sync_fetch_dossiers(
    source: SourceConfig, period: Period, client: SourceClient
) -> Iterator[DossierPage] | None:
    """Stream the dossiers received in ``period``, page by page.

    Yield pages as they arrive; never gather the whole listing in memory. The
    store treats the union of pages as the complete list for the period and
    the source's agencies.
    """


@hookspec(firstresult=True)
def nq57sync_import_file(source: SourceConfig, path: Path) -> ImportedFile | None:
    """Read an exported file (HTML-table .xls, .xlsx, .csv …) of this source."""


@hookspec
def nq57sync_consistency_rules(config: Config) -> list[ConsistencyRule]:
    """Extra identities every published aggregate row must satisfy."""


@hookspec
def nq57sync_report_sections(result: Any, config: Config) -> list[ReportSection]:
    """Extra sections for every report format, given a reconciliation result."""


@hookspec
def nq57sync_alert_channels(config: Config) -> list[AlertChannel]:
    """Extra ways to deliver alerts (the log, webhook and e-mail are built in)."""
