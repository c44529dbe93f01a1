"""Hook implementations of the `dvcqg` source plugin (the national portal)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import nq57sync
from nq57sync.config import SourceConfig
from nq57sync.exports import EXPORT_COLUMNS, ExportedList
from nq57sync.hooktypes import DossierPage, ImportedFile
from nq57sync.http import SourceClient
from nq57sync.model import AggregateRow, IndexScore
from nq57sync.package import PACKAGE_FIELDS
from nq57sync.period import Period
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


@nq57sync.hookimpl
def nq57sync_source_plugins() -> list[str]:
    return [NAME]


@nq57sync.hookimpl
def nq57sync_validate_source(source: SourceConfig) -> Mapping[str, Any] | None:
    if source.plugin != NAME:
        return None
    source.reject_unknown(OWN_KEYS)
    base_url = source.option("base_url", str)
    if not base_url.startswith(("http://", "https://")):
        raise source.config_error("base_url", "phải bắt đầu bằng http:// hoặc https://")
    page_size = source.option("page_size", int, 500)
    if not 1 <= page_size <= 5000:
        raise source.config_error("page_size", "phải từ 1 đến 5000")
    gateway = Gateway(
        base_url=base_url,
        province_id=source.option("province_id", str),
        rest_path=source.option("rest_path", str, "/jsp/rest.jsp"),
        referer_path=source.option("referer_path", str, "/p/home/dvc-trang-chu.html"),
        services=_table(source, "services", SERVICES),
        monthly_fields=_table(source, "monthly_fields", MONTHLY_FIELDS),
        dossier_fields=_table(source, "dossier_fields", PACKAGE_FIELDS),
        page_size=page_size,
    )
    return {"gateway": gateway, "export_columns": _table(source, "export_columns", EXPORT_COLUMNS)}


@nq57sync.hookimpl
def nq57sync_fetch_aggregates(source: SourceConfig, period: Period,
                              client: SourceClient) -> list[AggregateRow] | None:
    if source.plugin != NAME:
        return None
    return source.settings["gateway"].monthly(client, period, source.agencies)


@nq57sync.hookimpl
def nq57sync_fetch_index_scores(source: SourceConfig, period: Period,
                                client: SourceClient) -> list[IndexScore] | None:
    if source.plugin != NAME:
        return None
    return source.settings["gateway"].index(client, period)


@nq57sync.hookimpl
def nq57sync_fetch_dossiers(source: SourceConfig, period: Period,
                            client: SourceClient) -> Iterator[DossierPage] | None:
    if source.plugin != NAME:
        return None
    return source.settings["gateway"].dossiers(client, period, source.agencies)


@nq57sync.hookimpl
def nq57sync_import_file(source: SourceConfig, path: Path) -> ImportedFile | None:
    if source.plugin != NAME:
        return None
    return ImportedFile(ExportedList(path, source.settings["export_columns"]))
