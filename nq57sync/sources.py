"""Sources as objects: what a source plugin provides.

A plugin registers source classes by name through the ``nq57sync_register_sources``
hook, as datasette registers output renderers. The ``plugin = "…"`` key of a
``[[source]]`` table names the class; :meth:`Source.from_config` validates the
table's options into the instance's typed settings, once, when the configuration
is loaded. The instance then fetches and imports for that one source and keeps
its own state (the one-stop system's login, for example).

Source objects never open HTTP connections: the core hands each call a ready
:class:`nq57sync.http.SourceClient` that enforces timeouts, politeness, the
request budget and retries, and keeps secrets out of logs.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

import attrs

from nq57sync.config import SourceConfig
from nq57sync.errors import UsageError

if TYPE_CHECKING:
    from typing import Self

    from nq57sync.hooktypes import DossierPage, ImportedFile
    from nq57sync.http import SourceClient
    from nq57sync.model import AggregateRow, IndexScore
    from nq57sync.period import Period


@attrs.frozen
class Source:
    """One configured source. Subclasses set the class names and override what they can do.

    `plugin` is the value of ``plugin = "…"`` that selects the class;
    `display_name` and `short_name` are how reports and messages name the
    system (Vietnamese, with diacritics). A subclass adds its typed settings
    as attrs fields and builds them in `from_config`.
    """

    plugin: ClassVar[str] = ""
    display_name: ClassVar[str] = ""
    short_name: ClassVar[str] = ""

    config: SourceConfig

    @classmethod
    def from_config(cls, config: SourceConfig) -> Self:
        """Validate `config.options` (raise `config.config_error(...)`) and build the source."""
        config.reject_unknown(set())
        return cls(config)

    @property
    def name(self) -> str:
        """The source's name in the configuration (`name = "…"`)."""
        return self.config.name

    def aggregates(self, period: Period, client: SourceClient) -> list[AggregateRow]:
        """The standard-form figures the source publishes for `period` (each row with the
        period the source actually counted, which may differ from the one asked)."""
        return []

    def index_scores(self, period: Period, client: SourceClient) -> list[IndexScore]:
        """The 766 index lines the source publishes for `period`."""
        return []

    def dossiers(self, period: Period, client: SourceClient) -> Iterator[DossierPage]:
        """The dossiers received in `period`, page by page as they arrive (never all at once).

        The store treats the union of pages as the complete list for the period
        and the source's agencies.
        """
        raise UsageError(f"Nguồn “{self.name}” ({self.display_name or self.plugin}) không đồng "
                         "bộ qua mạng; hãy nhập tệp xuất bằng nq57sync import.")

    def import_file(self, path: Path) -> ImportedFile:
        """What an exported file (HTML-table .xls, .xlsx, .csv, …) of this source holds."""
        raise UsageError(f"Nguồn “{self.name}” ({self.display_name or self.plugin}) không "
                         "nhập được tệp.")
