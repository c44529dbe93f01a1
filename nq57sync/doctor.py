"""`nq57sync doctor`: is the store sound and the configuration usable?"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import attrs

from nq57sync import vi
from nq57sync.config import Config
from nq57sync.errors import ConfigError, Nq57Error
from nq57sync.files import sweep_scratch
from nq57sync.period import Period
from nq57sync.rules import compile_user_rule
from nq57sync.workspace import Workspace
from nq57sync_storage.schema import LATEST


@attrs.frozen
class Check:
    name: str
    title: str
    ok: bool
    detail: str


@attrs.frozen
class DoctorReport:
    checks: tuple[Check, ...]

    @property
    def healthy(self) -> bool:
        return all(c.ok for c in self.checks)

    def as_json(self) -> dict[str, Any]:
        return {"healthy": self.healthy,
                "checks": [attrs.asdict(c) for c in self.checks]}


def run_checks(config_path: Path) -> DoctorReport:
    checks: list[Check] = []
    try:
        config = Config.load(config_path)
        ws = Workspace(config)
        checks.append(Check("config", "Cấu hình", True,
                            f"{config_path}: {len(ws.sources)} nguồn hợp lệ"))
    except Nq57Error as exc:
        return DoctorReport((Check("config", "Cấu hình", False, str(exc)),))
    checks += _configuration_checks(ws)
    if not config.store_path.exists():
        return DoctorReport((*checks, Check(
            "store", "Kho dữ liệu", False,
            f"chưa có kho {config.store_path}; " + _START)))
    try:
        with ws:
            store = ws.store
            problems = store.integrity_check()
            checks.append(Check(
                "integrity", "Toàn vẹn kho dữ liệu", not problems,
                f"{store.path} ({vi.number(store.size_bytes() / 1e6, 1)} MB)" if not problems
                else "; ".join(problems[:5])))
            version = store.schema_version()
            checks.append(Check("migrations", "Lược đồ", version == LATEST,
                                f"phiên bản {version}/{LATEST}"))
            recovered = store.recover_interrupted()
            running = [s for s in store.snapshots() if s.state == "running"]
            detail = (f"đã đánh dấu thất bại {len(recovered)} lượt bị gián đoạn "
                      f"(số {', '.join(map(str, recovered))}); dữ liệu của chúng không được lưu"
                      if recovered else "không có lượt đồng bộ dở dang")
            if running:
                detail += f"; {len(running)} lượt đang chạy ở tiến trình khác"
            checks.append(Check("interrupted", "Lượt đồng bộ dở dang", True, detail))
            checks.append(Check("data", "Dữ liệu đã có", True, _holdings(ws)))
            checks += _unmapped_checks(ws)
            removed = sweep_scratch()
            checks.append(Check(
                "scratch", "Tệp tạm của lượt đối chiếu bị ngắt", True,
                f"đã xoá {len(removed)} thư mục tạm còn sót ({', '.join(p.name for p in removed[:3])})"
                if removed else "không có"))
    except Nq57Error as exc:
        checks.append(Check("store", "Kho dữ liệu", False, str(exc)))
    return DoctorReport(tuple(checks))


def _holdings(ws: Workspace) -> str:
    """What each source holds, which periods can be reconciled, and how to get the rest.

    Most centres start from exported files: the advice names that workflow.
    """
    parts = []
    labels: dict[str, None] = {}
    for name in ws.sources:
        held = [s for s in ws.store.snapshots(name, limit=200) if s.state == "complete"]
        kinds = {"pull": "đồng bộ", "import": "nhập tệp"}
        shown = dict.fromkeys(f"{s.period.label} ({kinds.get(s.kind, s.kind)})" for s in held)
        parts.append(f"{name}: " + (", ".join(list(shown)[:6]) if shown else "chưa có"))
        if name == ws.config.reconcile.left:
            labels.update(dict.fromkeys(s.period.label for s in held))
    ready = [label for label in list(labels)[:12]
             if ws.reconcilable(Period.parse(label)) is not None]
    advice = ("; đối chiếu được: " + ", ".join(ready)) if ready else (
        "; chưa kỳ nào đủ dữ liệu hai nguồn. " + _START)
    return "; ".join(parts) + advice


_START = ("Bắt đầu từ tệp xuất: nq57sync import --source TÊN_NGUỒN --period 2025-11 TỆP cho "
          "từng hệ thống, rồi nq57sync reconcile --period 2025-11 và nq57sync report --period "
          "2025-11 --output bao-cao.docx (hoặc nq57sync sync --period 2025-11 khi có quyền truy "
          "cập API)")


#: What an example configuration leaves for the user to fill in.
_PLACEHOLDERS = ("…", "...", "<", "example.vn", "TODO")


def _configuration_checks(ws: Workspace) -> list[Check]:
    """What fails later but can be seen now, without the network: no source, a value
    still a placeholder, a credential variable not set, a user rule that does not parse."""
    config = ws.config
    out = []
    if not config.sources:
        out.append(Check("sources", "Nguồn dữ liệu", False,
                         "cấu hình chưa khai báo nguồn [[source]] nào; xem mục cấu hình trong "
                         "README (docs/configuration.md)"))
    placeholders = [f"{s.name}.{key}" for s in config.sources for key, value in s.options.items()
                    if isinstance(value, str) and any(p in value for p in _PLACEHOLDERS)]
    out.append(Check("placeholders", "Giá trị mẫu chưa thay", not placeholders,
                     "còn giá trị mẫu ở khóa " + ", ".join(placeholders) if placeholders
                     else "không còn giá trị mẫu"))
    unset = []
    for source in config.sources:
        for key, value in source.options.items():
            if key.endswith("_env") and isinstance(value, str) and not os.environ.get(value):
                unset.append(f"{value} (nguồn “{source.name}”, khóa {key})")
    for key in ("smtp_username_env", "smtp_password_env"):
        name = getattr(config.alerts, key)
        if name and not os.environ.get(name):
            unset.append(f"{name} (khóa alerts.{key})")
    out.append(Check("secrets", "Biến môi trường chứa mật khẩu", not unset,
                     "chưa đặt: " + "; ".join(unset) if unset else "đã đặt đủ"))
    problems = []
    for rule in config.reconcile.rules:
        try:
            compile_user_rule(rule)
        except ConfigError as exc:
            problems.append(str(exc))
    out.append(Check("rules", "Quy tắc của người dùng", not problems,
                     " ".join(problems) if problems
                     else f"{len(config.reconcile.rules)} quy tắc hợp lệ"))
    return out


def _unmapped_checks(ws: Workspace) -> list[Check]:
    """Status ids a source sent that its `status_map` does not name, with the line to add."""
    from nq57sync.unmapped import describe
    from nq57sync_storage.unmapped import unmapped_current

    out = []
    for name in ws.sources:
        found = unmapped_current(ws.store, name)
        if found:
            out.append(Check(f"unmapped_status.{name}", "Mã trạng thái chưa ánh xạ", False,
                             describe(found, name)))
    return out


#: Requests `doctor --online` may send in all (every source together).
ONLINE_BUDGET = 20


def run_online(config_path: Path, budget: int = ONLINE_BUDGET) -> DoctorReport:
    """The first contact with each configured source, reading only.

    Each source that can (`first_contact(client)`) logs in and calls each of its
    endpoints once with the smallest request; no retry, at most `budget`
    requests in all, nothing written (the store is not opened: the request
    count lives in memory), no secret in any finding.
    """
    from nq57sync.http import RequestBudget, SourceClient, tls_context

    try:
        config = Config.load(config_path)
        ws = Workspace(config)
    except Nq57Error as exc:
        return DoctorReport((Check("config", "Cấu hình", False, str(exc)),))
    checks: list[Check] = []
    left = budget
    for name, source in ws.sources.items():
        probe = getattr(source, "first_contact", None)
        if probe is None:
            checks.append(Check(f"{name}.online", f"{name}", True,
                                "nguồn này chưa có kiểm tra trực tuyến; dùng nq57sync sync"))
            continue
        if left <= 0:
            checks.append(Check(f"{name}.online", f"{name}", False,
                                f"không thử: đã dùng hết {budget} yêu cầu cho các nguồn trước"))
            continue
        settings = source.config
        ca_bundle = settings.ca_bundle
        client = SourceClient(
            name, requests_per_second=settings.requests_per_second, max_concurrency=1,
            connect_timeout=settings.connect_timeout, read_timeout=settings.read_timeout,
            max_retries=0, retry_backoff=settings.retry_backoff,
            budget=RequestBudget(None, name, left),
            verify=tls_context(str(ca_bundle) if ca_bundle and ca_bundle.is_file() else None),
            max_response_mb=settings.max_response_mb)
        try:
            with client:
                try:
                    findings = probe(client)
                except Nq57Error as exc:
                    findings = [("stopped", "Dừng kiểm tra", False, str(exc))]
        finally:
            left -= client.budget.used()
        checks += [Check(f"{name}.{key}", f"{name} – {title}", ok, detail)
                   for key, title, ok, detail in findings]
    return DoctorReport(tuple(checks))
