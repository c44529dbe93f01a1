"""The `motcua` source (the city one-stop system) and the hook that registers it."""

from __future__ import annotations

import re
import weakref
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar

import attrs

import nq57sync
from nq57sync.codes import Channel, Status
from nq57sync.config import SourceConfig, env_name
from nq57sync.errors import ConfigError
from nq57sync.exports import EXPORT_COLUMNS as PORTAL_COLUMNS
from nq57sync.exports import ExportedList
from nq57sync.hooktypes import DossierPage, ImportedFile
from nq57sync.http import SourceClient
from nq57sync.model import AggregateRow
from nq57sync.period import Period
from nq57sync.sources import Source
from nq57sync_motcua.api import (
    CHANNEL_MAP,
    DATE_ENCODINGS,
    PAGE_SPECS,
    PATHS,
    PROCEDURE_CODE_PATTERN,
    SEARCH_PARAMS,
    STATUS_MAP,
    Api,
    Codes,
)
from nq57sync_motcua.auth import KeycloakLogin

NAME = "motcua"
OWN_KEYS = {"api_url", "sso_url", "realm", "client_id", "grant", "username_env", "password_env",
            "client_secret_env", "root_agency_id", "agency_tag_id", "public_url", "paths",
            "page_size", "statistics_from", "export_columns", "search_params",
            "statistics_params", "page_spec", "date_encoding", "status_map", "channel_map",
            "procedure_code_pattern"}
#: The one-stop system's dossier list export (modeled on iGate's "Danh sách hồ sơ"):
#: the portal's columns, the local code under "Mã hồ sơ", the code pushed to DVCQG
#: (when it differs) under "Mã hồ sơ quốc gia", the channel as "Hình thức nộp".
EXPORT_COLUMNS = {**PORTAL_COLUMNS, "national_code": "Mã hồ sơ quốc gia",
                  "channel": "Hình thức nộp", "finished_at": "Ngày có kết quả"}


@attrs.frozen
class OneStopSource(Source):
    """The city's one-stop system (Một cửa điện tử): Keycloak login, REST API, public page."""

    plugin: ClassVar[str] = NAME
    display_name: ClassVar[str] = "Hệ thống Một cửa điện tử"
    short_name: ClassVar[str] = "Một cửa"

    api: Api
    token_url: str
    grant: str
    client_id: str
    statistics_from: str
    export_columns: Mapping[str, str]
    #: One login per client (per sync): statistics and dossiers share its token.
    _logins: weakref.WeakKeyDictionary[SourceClient, KeycloakLogin] = attrs.field(
        factory=weakref.WeakKeyDictionary, eq=False, repr=False, alias="_logins")

    @classmethod
    def from_config(cls, config: SourceConfig) -> OneStopSource:
        config.reject_unknown(OWN_KEYS)
        paths = config.option("paths", dict, {})
        for key, value in paths.items():
            if key not in PATHS or not isinstance(value, str):
                raise config.config_error(f"paths.{key}", "không được hỗ trợ")
        grant = config.option("grant", str, "password")
        if grant not in ("password", "client_credentials"):
            raise config.config_error("grant", "phải là \"password\" hoặc \"client_credentials\"")
        # Names of the environment variables only: values are read when a sync starts.
        needed = ("username_env", "password_env") if grant == "password" else ("client_secret_env",)
        for key in needed:
            if key not in config.options:
                raise config.config_error(key, "bị thiếu")
            env_name(config.options[key], f"Nguồn “{config.name}”", key)
        statistics_from = config.option("statistics_from", str, "api")
        public_url = config.url("public_url", "")
        if statistics_from not in ("api", "public"):
            raise config.config_error("statistics_from", "phải là \"api\" hoặc \"public\"")
        if statistics_from == "public" and not public_url:
            raise config.config_error("public_url", "bị thiếu (statistics_from = \"public\")")
        page_size = config.whole_number("page_size", 200, 1, 2000)
        api = Api(
            api_url=config.url("api_url"),
            root_agency_id=config.option("root_agency_id", str),
            agency_tag_id=config.option("agency_tag_id", str, ""),
            public_url=public_url,
            paths={**PATHS, **paths},
            page_size=page_size,
            search_params={**SEARCH_PARAMS, **_parameters(config, "search_params")},
            statistics_params=_parameters(config, "statistics_params"),
            page_spec=_one_of(config, "page_spec", PAGE_SPECS),
            date_encoding=_one_of(config, "date_encoding", DATE_ENCODINGS),
            codes=Codes(_code_map(config, "status_map", Status, STATUS_MAP),
                        _code_map(config, "channel_map", Channel, CHANNEL_MAP),
                        _pattern(config)),
        )
        columns = config.option("export_columns", dict, {})
        for key, value in columns.items():
            if key not in EXPORT_COLUMNS or not isinstance(value, str) or not value:
                raise config.config_error(f"export_columns.{key}", "không được hỗ trợ")
        sso = config.url("sso_url").rstrip("/")
        realm = config.option("realm", str)
        return cls(config, api, f"{sso}/auth/realms/{realm}/protocol/openid-connect/token",
                   grant, config.option("client_id", str), statistics_from,
                   {**EXPORT_COLUMNS, **columns})

    def login(self, client: SourceClient) -> KeycloakLogin:
        """The client's login, made on first use; the secrets are read from the environment now."""
        if client not in self._logins:
            form = {"grant_type": self.grant, "client_id": self.client_id}
            if self.grant == "password":
                form |= {"username": self.config.secret("username_env"),
                         "password": self.config.secret("password_env")}
            else:
                form["client_secret"] = self.config.secret("client_secret_env")
            self._logins[client] = KeycloakLogin(client, self.token_url, form)
        return self._logins[client]

    def aggregates(self, period: Period, client: SourceClient) -> list[AggregateRow]:
        if self.statistics_from == "public":
            return self.api.public_statistics(client, period, self.config.agencies)
        return self.api.statistics(client, self.login(client), period, self.config.agencies)

    def dossiers(self, period: Period, client: SourceClient) -> Iterator[DossierPage]:
        auth = self.login(client)
        agencies = self.config.agencies
        if not agencies:
            return self.api.dossiers(client, auth, period, [self.api.root_agency_id])
        known = {a.code: a.source_id for a in self.api.agencies(client, auth)}
        missing = [code for code in agencies if code not in known]
        if missing:
            raise ConfigError(f"Nguồn “{self.name}”: hệ thống Một cửa không có đơn vị "
                              f"{', '.join(missing)} (khóa “agencies”).")
        return self.api.dossiers(client, auth, period, [known[c] or "" for c in agencies])

    def first_contact(self, client: SourceClient) -> list[tuple[str, str, bool, str]]:
        """`nq57sync doctor --online`: each endpoint called once, read only (probe.py)."""
        from nq57sync_motcua.probe import Probe

        return Probe(self, client).run()

    def import_file(self, path: Path) -> ImportedFile:
        return ImportedFile(ExportedList(path, self.export_columns))


def _parameters(config: SourceConfig, key: str) -> dict[str, str]:
    """A table of fixed extra query parameters: names to strings (numbers and booleans
    written as the wire does)."""
    table = config.option(key, dict, {})
    out = {}
    for name, value in table.items():
        if isinstance(value, bool):
            value = "true" if value else "false"
        if not isinstance(value, (str, int)) or not str(name):
            raise config.config_error(f"{key}.{name}", "phải là một chuỗi hoặc số")
        out[str(name)] = str(value)
    return out


def _one_of(config: SourceConfig, key: str, allowed: tuple[str, ...]) -> str:
    value = config.option(key, str, allowed[0])
    if value not in allowed:
        raise config.config_error(key, "phải là " + " hoặc ".join(f"\"{a}\"" for a in allowed))
    return value


def _code_map(config: SourceConfig, key: str, national: type[Status] | type[Channel],
              defaults: Mapping[int, Any]) -> dict[int, Any]:
    """iGate id → national code: the defaults of sources.md, with the table's lines over them."""
    out = dict(defaults)
    for raw, value in config.option(key, dict, {}).items():
        try:
            ident = int(str(raw).strip())
            code = national(value) if isinstance(value, int) and not isinstance(value, bool) else None
        except ValueError:
            code = None
        if code is None or not code:
            raise config.config_error(
                f"{key}.{raw}", f"phải ánh xạ một mã số iGate sang một mã quốc gia "
                f"({', '.join(str(int(c)) for c in national if c)})")
        out[ident] = code
    return out


def _pattern(config: SourceConfig) -> re.Pattern[str]:
    text = config.option("procedure_code_pattern", str, PROCEDURE_CODE_PATTERN)
    try:
        return re.compile(text)
    except re.error as exc:
        raise config.config_error("procedure_code_pattern",
                                  f"không phải biểu thức chính quy hợp lệ ({exc})") from None


@nq57sync.hookimpl
def nq57sync_register_sources() -> list[type[Source]]:
    return [OneStopSource]
