"""Hook implementations of the `motcua` source plugin (the city one-stop system)."""

from __future__ import annotations

import weakref
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import nq57sync
from nq57sync.config import SourceConfig, env_name
from nq57sync.errors import ConfigError
from nq57sync.exports import EXPORT_COLUMNS as PORTAL_COLUMNS
from nq57sync.exports import ExportedList
from nq57sync.hooktypes import DossierPage, ImportedFile
from nq57sync.http import SourceClient
from nq57sync.model import AggregateRow
from nq57sync.period import Period
from nq57sync_motcua.api import PATHS, Api
from nq57sync_motcua.auth import KeycloakLogin

NAME = "motcua"
OWN_KEYS = {"api_url", "sso_url", "realm", "client_id", "grant", "username_env", "password_env",
            "client_secret_env", "root_agency_id", "agency_tag_id", "public_url", "paths",
            "page_size", "statistics_from", "export_columns"}
#: The one-stop system's dossier list export (modeled on iGate's "Danh sách hồ sơ"):
#: the portal's columns, the local code under "Mã hồ sơ", the code pushed to DVCQG
#: (when it differs) under "Mã hồ sơ quốc gia", the channel as "Hình thức nộp".
EXPORT_COLUMNS = {**PORTAL_COLUMNS, "national_code": "Mã hồ sơ quốc gia",
                  "channel": "Hình thức nộp", "finished_at": "Ngày có kết quả"}


def _url(source: SourceConfig, key: str, default: str | None = None) -> str:
    value = source.option(key, str) if default is None else source.option(key, str, default)
    if value and not value.startswith(("http://", "https://")):
        raise source.config_error(key, "phải bắt đầu bằng http:// hoặc https://")
    return value


@nq57sync.hookimpl
def nq57sync_source_plugins() -> list[str]:
    return [NAME]


@nq57sync.hookimpl
def nq57sync_validate_source(source: SourceConfig) -> Mapping[str, Any] | None:
    if source.plugin != NAME:
        return None
    source.reject_unknown(OWN_KEYS)
    paths = source.option("paths", dict, {})
    for key, value in paths.items():
        if key not in PATHS or not isinstance(value, str):
            raise source.config_error(f"paths.{key}", "không được hỗ trợ")
    grant = source.option("grant", str, "password")
    if grant not in ("password", "client_credentials"):
        raise source.config_error("grant", "phải là \"password\" hoặc \"client_credentials\"")
    # Names of the environment variables only: values are read when a sync starts.
    needed = ("username_env", "password_env") if grant == "password" else ("client_secret_env",)
    for key in needed:
        if key not in source.options:
            raise source.config_error(key, "bị thiếu")
        env_name(source.options[key], f"Nguồn “{source.name}”", key)
    statistics_from = source.option("statistics_from", str, "api")
    public_url = _url(source, "public_url", "")
    if statistics_from not in ("api", "public"):
        raise source.config_error("statistics_from", "phải là \"api\" hoặc \"public\"")
    if statistics_from == "public" and not public_url:
        raise source.config_error("public_url", "bị thiếu (statistics_from = \"public\")")
    page_size = source.option("page_size", int, 200)
    if not 1 <= page_size <= 2000:
        raise source.config_error("page_size", "phải từ 1 đến 2000")
    api = Api(
        api_url=_url(source, "api_url"),
        root_agency_id=source.option("root_agency_id", str),
        agency_tag_id=source.option("agency_tag_id", str, ""),
        public_url=public_url,
        paths={**PATHS, **paths},
        page_size=page_size,
    )
    columns = source.option("export_columns", dict, {})
    for key, value in columns.items():
        if key not in EXPORT_COLUMNS or not isinstance(value, str) or not value:
            raise source.config_error(f"export_columns.{key}", "không được hỗ trợ")
    sso = _url(source, "sso_url").rstrip("/")
    token_url = f"{sso}/auth/realms/{source.option('realm', str)}/protocol/openid-connect/token"
    return {"api": api, "token_url": token_url, "grant": grant,
            "client_id": source.option("client_id", str), "statistics_from": statistics_from,
            "export_columns": {**EXPORT_COLUMNS, **columns}}


_LOGINS: weakref.WeakKeyDictionary[SourceClient, KeycloakLogin] = weakref.WeakKeyDictionary()


def login(source: SourceConfig, client: SourceClient) -> KeycloakLogin:
    """One login per client (per sync): statistics and dossiers share its token."""
    if client in _LOGINS:
        return _LOGINS[client]
    s = source.settings
    form = {"grant_type": s["grant"], "client_id": s["client_id"]}
    if s["grant"] == "password":
        form |= {"username": source.secret("username_env"), "password": source.secret("password_env")}
    else:
        form["client_secret"] = source.secret("client_secret_env")
    _LOGINS[client] = KeycloakLogin(client, s["token_url"], form)
    return _LOGINS[client]


@nq57sync.hookimpl
def nq57sync_fetch_aggregates(source: SourceConfig, period: Period,
                              client: SourceClient) -> list[AggregateRow] | None:
    if source.plugin != NAME:
        return None
    api: Api = source.settings["api"]
    if source.settings["statistics_from"] == "public":
        return api.public_statistics(client, period, source.agencies)
    return api.statistics(client, login(source, client), period, source.agencies)


@nq57sync.hookimpl
def nq57sync_fetch_dossiers(source: SourceConfig, period: Period,
                            client: SourceClient) -> Iterator[DossierPage] | None:
    if source.plugin != NAME:
        return None
    api: Api = source.settings["api"]
    auth = login(source, client)
    if not source.agencies:
        return api.dossiers(client, auth, period, [api.root_agency_id])
    known = {a.code: a.source_id for a in api.agencies(client, auth)}
    missing = [code for code in source.agencies if code not in known]
    if missing:
        raise ConfigError(f"Nguồn “{source.name}”: hệ thống Một cửa không có đơn vị "
                          f"{', '.join(missing)} (khóa “agencies”).")
    return api.dossiers(client, auth, period, [known[c] or "" for c in source.agencies])


@nq57sync.hookimpl
def nq57sync_import_file(source: SourceConfig, path: Path) -> ImportedFile | None:
    if source.plugin != NAME:
        return None
    return ImportedFile(ExportedList(path, source.settings["export_columns"]))
