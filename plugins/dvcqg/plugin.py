"""The `dvcqg` source (the national portal) and the hook that registers it."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import ClassVar

import attrs

import nq57sync
from nq57sync.config import SourceConfig
from nq57sync.exports import EXPORT_COLUMNS, ExportedList
from nq57sync.hooktypes import DossierPage, ImportedFile
from nq57sync.http import SourceClient
from nq57sync.model import AggregateRow, IndexScore
from nq57sync.package import PACKAGE_FIELDS
from nq57sync.period import Period
from nq57sync.sources import Source
from nq57sync_dvcqg.gateway import MONTHLY_FIELDS, SERVICES, Gateway

NAME = "dvcqg"
OWN_KEYS = {"base_url", "province_id", "rest_path", "referer_path", "services", "monthly_fields",
            "dossier_fields", "export_columns", "page_size"}


def _table(source: SourceConfig, key: str, defaults: Mapping[str, str]) -> dict[str, str]:
    """An override table whose keys must be among the defaults' keys."""
    table = source.option(key, dict, {})
    for name, value in table.items():
        if name not in defaults:
            raise source.config_error(f"{key}.{name}", "không được hỗ trợ")
        if not isinstance(value, str) or not value:
            raise source.config_error(f"{key}.{name}", "phải là chuỗi khác rỗng")
    return {**defaults, **table}


@attrs.frozen
class PortalSource(Source):
    """The national public-service portal (DVCQG): the rest.jsp gateway and its exports."""

    plugin: ClassVar[str] = NAME
    display_name: ClassVar[str] = "Cổng Dịch vụ công quốc gia"
    short_name: ClassVar[str] = "Cổng DVCQG"

    gateway: Gateway
    export_columns: Mapping[str, str]

    @classmethod
    def from_config(cls, config: SourceConfig) -> PortalSource:
        config.reject_unknown(OWN_KEYS)
        base_url = config.url("base_url")
        page_size = config.whole_number("page_size", 500, 1, 5000)
        gateway = Gateway(
            base_url=base_url,
            province_id=config.option("province_id", str),
            rest_path=config.option("rest_path", str, "/jsp/rest.jsp"),
            referer_path=config.option("referer_path", str, "/p/home/dvc-trang-chu.html"),
            services=_table(config, "services", SERVICES),
            monthly_fields=_table(config, "monthly_fields", MONTHLY_FIELDS),
            dossier_fields=_table(config, "dossier_fields", PACKAGE_FIELDS),
            page_size=page_size,
        )
        return cls(config, gateway, _table(config, "export_columns", EXPORT_COLUMNS))

    def aggregates(self, period: Period, client: SourceClient) -> list[AggregateRow]:
        return self.gateway.monthly(client, period, self.config.agencies)

    def index_scores(self, period: Period, client: SourceClient) -> list[IndexScore]:
        return self.gateway.index(client, period)

    def dossiers(self, period: Period, client: SourceClient) -> Iterator[DossierPage]:
        return self.gateway.dossiers(client, period, self.config.agencies)

    def import_file(self, path: Path) -> ImportedFile:
        return ImportedFile(ExportedList(path, self.export_columns))


@nq57sync.hookimpl
def nq57sync_register_sources() -> list[type[Source]]:
    return [PortalSource]
