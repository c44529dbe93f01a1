"""Values that cross the plugin boundary, in both directions.

Kept apart from `hookspecs` so that a plugin can import them without pulling
in pluggy machinery, and so the hook documentation stays readable.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

import attrs

from nq57sync.model import AggregateRow, Dossier
from nq57sync.period import Period


@attrs.frozen
class DossierPage:
    """One page of a dossier listing; `total` (if the source tells) drives progress."""

    dossiers: tuple[Dossier, ...] = attrs.field(converter=tuple)
    total: int | None = None


@attrs.frozen
class ImportedFile:
    """What a plugin read from an exported file.

    `period` and `agencies` default to what the dossiers themselves span; the
    store treats the file as the complete list for that scope.
    """

    dossiers: Iterable[Dossier]
    aggregates: tuple[AggregateRow, ...] = ()
    period: Period | None = None
    agencies: tuple[str, ...] | None = None


@attrs.frozen
class ConsistencyRule:
    """An identity published figures must satisfy.

    `check` receives one agency's metrics (names of `model.METRICS`) and
    returns None when the rule holds, else a Vietnamese sentence saying how
    it fails. `values` names the metrics the rule reads, for reports.
    """

    name: str
    description: str
    check: Callable[[Mapping[str, int]], str | None]
    values: tuple[str, ...] = ()


@attrs.frozen
class ReportSection:
    """A section a plugin adds to every report format.

    Content is format-neutral: paragraphs of plain Vietnamese text and an
    optional table whose first row is the header.
    """

    title: str
    paragraphs: tuple[str, ...] = ()
    table: tuple[tuple[str, ...], ...] = ()
    order: int = 100


@attrs.frozen
class Alert:
    """Something a person should hear about. Never carries a secret."""

    kind: str
    title: str
    message: str
    created_at: dt.datetime
    attachment: Path | None = None
    data: Mapping[str, object] = attrs.field(factory=dict)


@attrs.frozen
class AlertChannel:
    """A way of delivering alerts (webhook, e-mail, log …)."""

    name: str
    send: Callable[[Alert], None]
