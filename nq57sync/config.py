"""TOML configuration (interface.md, "Configuration").

Every error names the key, the source and the file. Secrets are never read
from the file: it names environment variables, and only their names ever
appear in messages.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

import attrs

from nq57sync.errors import ConfigError

T = TypeVar("T")
_REQUIRED: Any = object()

#: Keys every [[source]] may carry, read by the core rather than the plugin.
COMMON_SOURCE_KEYS = frozenset({
    "name", "plugin", "agencies", "requests_per_second", "daily_request_budget",
    "max_concurrency", "ca_bundle", "connect_timeout", "read_timeout", "max_retries",
    "retry_backoff", "max_response_mb",
})

_TYPE_NAMES = {str: "chuỗi", int: "số nguyên", float: "số", bool: "true/false", list: "danh sách"}


def _where(path: Path | None, source: str | None = None) -> str:
    place = f"Tệp cấu hình {path}" if path else "Cấu hình"
    return f"{place}, nguồn “{source}”" if source else place


def _typed(value: Any, kind: type[T], where: str, key: str) -> T:
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)  # type: ignore[return-value]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ConfigError(f"{where}: khóa “{key}” phải là {_TYPE_NAMES.get(kind, kind.__name__)}.")
    return value


def _toml_place(exc: tomllib.TOMLDecodeError) -> str:
    """Where the TOML parser stopped, in Vietnamese (its own message is English)."""
    line = getattr(exc, "lineno", None)
    column = getattr(exc, "colno", None)
    if line is None:
        found = re.search(r"line (\d+), column (\d+)", str(exc))
        line, column = (int(found[1]), int(found[2])) if found else (None, None)
    return f" ở dòng {line}, cột {column}" if line is not None else ""


_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")


def env_name(value: Any, where: str, key: str) -> str:
    """The name of an environment variable; never echoed, since users put secrets here."""
    if not isinstance(value, str) or not _ENV_NAME.match(value):
        raise ConfigError(f"{where}: khóa “{key}” phải là tên một biến môi trường (chữ cái, "
                          "chữ số, dấu _), không phải mật khẩu; giá trị không được in ra để giữ "
                          "bí mật.")
    return value


@attrs.frozen
class SourceConfig:
    """One `[[source]]` table as written; its plugin's `Source.from_config` makes it typed."""

    name: str
    plugin: str
    options: Mapping[str, Any]
    config_path: Path | None = None

    def config_error(self, key: str, message: str) -> ConfigError:
        return ConfigError(f"{_where(self.config_path, self.name)}: khóa “{key}” {message}.")

    def option(self, key: str, kind: type[T], default: T = _REQUIRED) -> T:
        if key not in self.options:
            if default is _REQUIRED:
                raise self.config_error(key, "bị thiếu")
            return default
        return _typed(self.options[key], kind, _where(self.config_path, self.name), key)

    def url(self, key: str, default: str = _REQUIRED) -> str:  # type: ignore[assignment]
        """An http(s) address option; "" is allowed as a default meaning "none"."""
        value = self.option(key, str, default)
        if value and not value.startswith(("http://", "https://")):
            raise self.config_error(key, "phải bắt đầu bằng http:// hoặc https://")
        return value

    def whole_number(self, key: str, default: int, low: int, high: int) -> int:
        """An integer option within [low, high]."""
        value = self.option(key, int, default)
        if not low <= value <= high:
            raise self.config_error(key, f"phải từ {low} đến {high}")
        return value

    def reject_unknown(self, own_keys: frozenset[str] | set[str]) -> None:
        """Plugins call this so that a misspelt key never passes silently."""
        for key in sorted(set(self.options) - COMMON_SOURCE_KEYS - set(own_keys)):
            raise self.config_error(key, "không được hỗ trợ")

    def secret(self, env_key: str) -> str:
        """The value of the environment variable that option `env_key` names."""
        if env_key not in self.options:
            raise self.config_error(env_key, "bị thiếu")
        variable = env_name(self.options[env_key], _where(self.config_path, self.name), env_key)
        value = os.environ.get(variable)
        if not value:
            raise ConfigError(
                f"{_where(self.config_path, self.name)}: biến môi trường “{variable}” "
                f"(khóa “{env_key}”) chưa được đặt."
            )
        return value

    # Politeness settings shared by every source.
    @property
    def requests_per_second(self) -> float:
        return self.option("requests_per_second", float, 2.0)

    @property
    def daily_request_budget(self) -> int:
        return self.option("daily_request_budget", int, 5000)

    @property
    def max_concurrency(self) -> int:
        return self.option("max_concurrency", int, 4)

    @property
    def connect_timeout(self) -> float:
        return self.option("connect_timeout", float, 30.0)

    @property
    def read_timeout(self) -> float:
        return self.option("read_timeout", float, 180.0)

    @property
    def max_retries(self) -> int:
        return self.option("max_retries", int, 5)

    @property
    def retry_backoff(self) -> float:
        return self.option("retry_backoff", float, 1.0)

    @property
    def max_response_mb(self) -> float:
        """The largest single answer read (a runaway answer must not exhaust memory)."""
        value = self.option("max_response_mb", float, 50.0)
        if value <= 0:
            raise self.config_error("max_response_mb", "phải lớn hơn 0")
        return value

    @property
    def ca_bundle(self) -> Path | None:
        value = self.option("ca_bundle", str, "")
        return Path(value) if value else None

    @property
    def agencies(self) -> tuple[str, ...]:
        """The `MaDinhDanh` codes to cover; empty means every agency."""
        values = self.option("agencies", list, [])
        return tuple(_typed(v, str, _where(self.config_path, self.name), "agencies") for v in values)


@attrs.frozen
class UserRule:
    """A consistency rule written in the configuration (`[[reconcile.rule]]`)."""

    name: str
    expression: str
    tolerance: float = 0.0


@attrs.frozen
class ReconcileConfig:
    left: str = "motcua"
    right: str = "dvcqg"
    sync_grace_hours: float = 24.0
    date_tolerance_minutes: float = 1.0
    #: The right side is pulled this many days beyond the period on each side, so a
    #: copy whose own date crosses the boundary is found as a date difference.
    lookaround_days: int = 7
    rules: tuple[UserRule, ...] = ()
    #: When published resolved/pending figures are recomputed from dossiers: the
    #: state at the period's close ("period_end", the standard form's reading) or
    #: at the snapshot ("snapshot", what a portal publishing live figures shows).
    #: "auto" (the default) finds, per source and period, which of the two the
    #: published figures follow.
    figures_as_of: str = "auto"
    #: Dossiers waiting for a supplement or a financial obligation (statuses 5, 6):
    #: counted as pending ("pending") or left out of the pending figures ("excluded").
    paused: str = "pending"


@attrs.frozen
class ReportConfig:
    unit_name: str = "Trung tâm Phục vụ hành chính công"
    parent_body: str = ""
    place: str = "Hải Phòng"
    signer_title: str = "GIÁM ĐỐC"
    signer_name: str = ""
    recipients: tuple[str, ...] = ()


def _choice(table: Mapping[str, Any], key: str, allowed: tuple[str, ...], where: str) -> str:
    value = _typed(table.get(key, allowed[0]), str, where, f"reconcile.{key}")
    if value not in allowed:
        raise ConfigError(f"{where}: khóa “reconcile.{key}” phải là "
                          + " hoặc ".join(f"\"{a}\"" for a in allowed) + f", nhận được “{value}”.")
    return value


_TRIGGER = re.compile(r"^(interval\s+\d+(\.\d+)?\s*[smhd]|cron\s+(\S+\s+){4}\S+)$")
_HOURS = re.compile(r"^([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-3]):[0-5]\d$")


def _trigger(value: Any, where: str, key: str) -> str:
    text = " ".join(_typed(value, str, where, key).split())
    if not _TRIGGER.match(text):
        raise ConfigError(f"{where}: khóa “{key}” phải có dạng \"interval 6h\" (s, m, h, d) hoặc "
                          f"\"cron phút giờ ngày tháng thứ\", nhận được “{text}”.")
    return text


@attrs.frozen
class ScheduleConfig:
    """`[schedule]`: what the daemon runs and when (triggers: "interval 6h", "cron 0 1 * * *")."""

    sync: str = "interval 6h"
    source_sync: Mapping[str, str] = attrs.field(factory=dict)   # per-source overrides
    periods: tuple[str, ...] = ("current",)     # "current", "current@nd09", "previous", or a period
    reports: tuple[str, ...] = ("cron 0 7 * * mon", "cron 0 8 14 * *")
    report_formats: tuple[str, ...] = ("docx", "xlsx", "html")
    report_dir: Path = Path("bao-cao")
    jitter_seconds: int = 120
    quiet_hours: str = ""                       # "07:00-17:30": no sync starts then
    retention_days: int = 180
    failure_backoff_seconds: float = 300.0
    min_budget_left: int = 50
    status_port: int = 0                        # 0: no /healthz endpoint


@attrs.frozen
class AlertsConfig:
    """`[alerts]`: when to speak up and where (log always; webhook and e-mail if set)."""

    new_discrepancies: int = 1
    source_failures: int = 3
    webhook_url: str = ""
    smtp_host: str = ""
    smtp_port: int = 587
    smtp_starttls: bool = True
    smtp_from: str = ""
    smtp_to: tuple[str, ...] = ()
    smtp_username_env: str = ""
    smtp_password_env: str = ""


@attrs.frozen
class ServeConfig:
    """`[serve]`: the dashboard. Off loopback it needs a password (from the environment)."""

    host: str = "127.0.0.1"
    port: int = 8057
    password_env: str = "NQ57SYNC_DASHBOARD_PASSWORD"
    in_daemon: bool = False
    #: Host names (besides loopback and `host`) the dashboard answers to, e.g. the
    #: name colleagues type; any other `Host` header gets 400 (DNS rebinding).
    allowed_hosts: tuple[str, ...] = ()
    tls_cert: Path | None = None
    tls_key: Path | None = None


@attrs.frozen
class Config:
    """The whole configuration, with relative paths resolved against its file."""

    path: Path | None
    store_path: Path
    sources: tuple[SourceConfig, ...]
    reconcile: ReconcileConfig = ReconcileConfig()
    report: ReportConfig = ReportConfig()
    schedule: ScheduleConfig = ScheduleConfig()
    alerts: AlertsConfig = AlertsConfig()
    serve: ServeConfig = ServeConfig()

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Config:
        file = Path(path)
        try:
            data = tomllib.loads(file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(
                f"Không tìm thấy tệp cấu hình {file} (dùng --config để chỉ đường dẫn khác)."
            ) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"Không đọc được tệp cấu hình {file}: {exc.__class__.__name__}.") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"Tệp cấu hình {file} sai cú pháp TOML{_toml_place(exc)}; hãy "
                              "kiểm tra dấu ngoặc kép, dấu bằng và tên bảng [..] ở dòng đó.") from None
        return cls.from_dict(data, file)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], path: Path | None = None) -> Config:
        where = _where(path)
        for key in data:
            if key not in {"store", "source", "reconcile", "report", "schedule", "alerts", "serve"}:
                raise ConfigError(f"{where}: mục “{key}” không được hỗ trợ.")
        base = path.parent if path else Path.cwd()

        store = _table(data, "store", where)
        _only(store, {"path"}, where, "store")
        store_path = Path(_typed(store.get("path", "nq57sync.db"), str, where, "store.path"))

        sources: list[SourceConfig] = []
        raw_sources = data.get("source", [])
        if not isinstance(raw_sources, list):
            raise ConfigError(f"{where}: “source” phải là bảng lặp [[source]].")
        for index, raw in enumerate(raw_sources, 1):
            if not isinstance(raw, dict):
                raise ConfigError(f"{where}: mục [[source]] thứ {index} phải là một bảng.")
            name = raw.get("name")
            if not isinstance(name, str) or not name:
                raise ConfigError(f"{where}: mục [[source]] thứ {index} thiếu khóa “name”.")
            if any(s.name == name for s in sources):
                raise ConfigError(f"{where}: tên nguồn “{name}” bị trùng.")
            plugin = raw.get("plugin")
            if not isinstance(plugin, str) or not plugin:
                raise ConfigError(f"{_where(path, name)}: khóa “plugin” bị thiếu.")
            sources.append(SourceConfig(name, plugin, dict(raw), path))

        rec = _table(data, "reconcile", where)
        _only(rec, {"left", "right", "sync_grace_hours", "date_tolerance_minutes",
                    "lookaround_days", "rule", "figures_as_of", "paused"},
              where, "reconcile")
        rules = []
        for raw_rule in rec.get("rule", []):
            _only(raw_rule, {"name", "expression", "tolerance"}, where, "reconcile.rule")
            rules.append(UserRule(
                _typed(raw_rule.get("name"), str, where, "reconcile.rule.name"),
                _typed(raw_rule.get("expression"), str, where, "reconcile.rule.expression"),
                _typed(raw_rule.get("tolerance", 0.0), float, where, "reconcile.rule.tolerance"),
            ))
        reconcile = ReconcileConfig(
            left=_typed(rec.get("left", "motcua"), str, where, "reconcile.left"),
            right=_typed(rec.get("right", "dvcqg"), str, where, "reconcile.right"),
            sync_grace_hours=_typed(rec.get("sync_grace_hours", 24.0), float, where,
                                    "reconcile.sync_grace_hours"),
            date_tolerance_minutes=_typed(rec.get("date_tolerance_minutes", 1.0), float, where,
                                          "reconcile.date_tolerance_minutes"),
            lookaround_days=_typed(rec.get("lookaround_days", 7), int, where,
                                   "reconcile.lookaround_days"),
            rules=tuple(rules),
            figures_as_of=_choice(rec, "figures_as_of", ("auto", "period_end", "snapshot"),
                                  where),
            paused=_choice(rec, "paused", ("pending", "excluded"), where),
        )

        rep = _table(data, "report", where)
        fields = {f.name for f in attrs.fields(ReportConfig)}
        _only(rep, fields, where, "report")
        report = ReportConfig(**{
            k: tuple(v) if k == "recipients" else _typed(v, str, where, f"report.{k}")
            for k, v in rep.items()
        })
        return cls(
            path=path,
            store_path=store_path if store_path.is_absolute() else base / store_path,
            sources=tuple(sources),
            reconcile=reconcile,
            report=report,
            schedule=_schedule(_table(data, "schedule", where), where, base),
            alerts=_alerts(_table(data, "alerts", where), where),
            serve=_serve(_table(data, "serve", where), where, base),
        )

    def source(self, name: str) -> SourceConfig:
        for source in self.sources:
            if source.name == name:
                return source
        known = ", ".join(s.name for s in self.sources) or "(chưa có nguồn nào)"
        raise ConfigError(f"{_where(self.path)}: không có nguồn “{name}”; các nguồn: {known}.")


def _schedule(table: Mapping[str, Any], where: str, base: Path) -> ScheduleConfig:
    fields = {f.name for f in attrs.fields(ScheduleConfig)} - {"source_sync"} | {"source"}
    _only(table, fields, where, "schedule")
    default = ScheduleConfig()
    per_source = _table(table, "source", where)
    for name in per_source:
        _only(_table(per_source, name, where), {"sync"}, where, f"schedule.source.{name}")
    quiet = _typed(table.get("quiet_hours", ""), str, where, "schedule.quiet_hours")
    if quiet and not _HOURS.match(quiet):
        raise ConfigError(f"{where}: khóa “schedule.quiet_hours” phải có dạng \"22:00-05:00\".")
    report_dir = Path(_typed(table.get("report_dir", str(default.report_dir)), str, where,
                             "schedule.report_dir"))
    formats = tuple(table.get("report_formats", default.report_formats))
    for fmt in formats:
        if fmt not in ("docx", "xlsx", "html", "md"):
            raise ConfigError(f"{where}: “schedule.report_formats” không có định dạng “{fmt}”.")
    return ScheduleConfig(
        sync=_trigger(table.get("sync", default.sync), where, "schedule.sync"),
        source_sync={name: _trigger(value.get("sync"), where, f"schedule.source.{name}.sync")
                     for name, value in per_source.items()},
        periods=tuple(_typed(p, str, where, "schedule.periods")
                      for p in table.get("periods", default.periods)),
        reports=tuple(_trigger(t, where, "schedule.reports")
                      for t in table.get("reports", default.reports)),
        report_formats=formats,
        report_dir=report_dir if report_dir.is_absolute() else base / report_dir,
        jitter_seconds=_typed(table.get("jitter_seconds", default.jitter_seconds), int, where,
                              "schedule.jitter_seconds"),
        quiet_hours=quiet,
        retention_days=_typed(table.get("retention_days", default.retention_days), int, where,
                              "schedule.retention_days"),
        failure_backoff_seconds=_typed(table.get("failure_backoff_seconds",
                                                 default.failure_backoff_seconds), float, where,
                                       "schedule.failure_backoff_seconds"),
        min_budget_left=_typed(table.get("min_budget_left", default.min_budget_left), int, where,
                               "schedule.min_budget_left"),
        status_port=_typed(table.get("status_port", 0), int, where, "schedule.status_port"),
    )


def _alerts(table: Mapping[str, Any], where: str) -> AlertsConfig:
    fields = {f.name for f in attrs.fields(AlertsConfig)}
    _only(table, fields, where, "alerts")
    values: dict[str, Any] = {}
    for f in attrs.fields(AlertsConfig):
        if f.name not in table:
            continue
        if f.name.endswith("_env"):
            values[f.name] = env_name(table[f.name], where, f"alerts.{f.name}")
            continue
        kind = {int: int, bool: bool, str: str}.get(type(f.default), list)
        value = _typed(table[f.name], kind, where, f"alerts.{f.name}")
        values[f.name] = tuple(value) if kind is list else value
    return AlertsConfig(**values)


def _path(value: Any, base: Path, where: str, key: str) -> Path | None:
    if value is None:
        return None
    path = Path(_typed(value, str, where, key))
    return path if path.is_absolute() else base / path


def _serve(table: Mapping[str, Any], where: str, base: Path) -> ServeConfig:
    _only(table, {f.name for f in attrs.fields(ServeConfig)}, where, "serve")
    default = ServeConfig()
    return ServeConfig(
        host=_typed(table.get("host", default.host), str, where, "serve.host"),
        port=_typed(table.get("port", default.port), int, where, "serve.port"),
        password_env=env_name(table.get("password_env", default.password_env), where,
                              "serve.password_env"),
        in_daemon=_typed(table.get("in_daemon", default.in_daemon), bool, where, "serve.in_daemon"),
        allowed_hosts=tuple(_typed(h, str, where, "serve.allowed_hosts")
                            for h in _typed(table.get("allowed_hosts", []), list, where,
                                            "serve.allowed_hosts")),
        tls_cert=_path(table.get("tls_cert"), base, where, "serve.tls_cert"),
        tls_key=_path(table.get("tls_key"), base, where, "serve.tls_key"),
    )


def _table(data: Mapping[str, Any], key: str, where: str) -> dict[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: “{key}” phải là một bảng [{key}].")
    return value


def _only(table: Mapping[str, Any], allowed: set[str], where: str, section: str) -> None:
    for key in sorted(set(table) - allowed):
        raise ConfigError(f"{where}: khóa “{section}.{key}” không được hỗ trợ.")
