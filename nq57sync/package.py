"""The national dossier sync package (domain.md, "Codes").

One-stop systems push dossiers to DVCQG as JSON records with Vietnamese
PascalCase fields and `yyyyMMddHHmmss` dates. DVCQG's listing answers with the
same records, and third-party exports often follow them too, so the parser
lives in the core.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from nq57sync import wire
from nq57sync.codes import Channel, Status, parse_code
from nq57sync.errors import DataError
from nq57sync.model import VN_TZ, Agency, Dossier, Procedure

#: Canonical name → wire name. Override entries where a portal differs.
PACKAGE_FIELDS: dict[str, str] = {
    "code": "MaHoSo",
    "alt_code": "MaHoSoKhac",
    "procedure_code": "MaTTHC",
    "procedure_name": "TenTTHC",
    "field_code": "MaLinhVuc",
    "agency_code": "MaDinhDanh",
    "agency_name": "DonViXuLy",
    "channel": "KenhThucHien",
    "status": "TrangThaiHoSo",
    "received_at": "NgayTiepNhan",
    "due_at": "NgayHenTra",
    "finished_at": "NgayKetThucXuLy",
    "returned_at": "NgayTra",
    "rejected_at": "NgayTuChoi",
    "synced_at": "NgayDongBo",
}


def parse_compact_datetime(value: Any, field: str = "ngày") -> dt.datetime | None:
    """`yyyyMMddHHmmss` (or `yyyyMMdd`) in Vietnam time; empty means absent."""
    if value is None:
        return None
    text = str(value).strip()
    if not text:
        return None
    try:
        if len(text) == 14 and text.isdigit():
            return dt.datetime.strptime(text, "%Y%m%d%H%M%S").replace(tzinfo=VN_TZ)
        if len(text) == 8 and text.isdigit():
            return dt.datetime.strptime(text, "%Y%m%d").replace(tzinfo=VN_TZ)
    except ValueError:
        pass
    raise DataError(f"Giá trị {field} “{text[:30]}” không đúng dạng yyyyMMddHHmmss.")


def format_compact_datetime(value: dt.datetime | None) -> str:
    return "" if value is None else value.astimezone(VN_TZ).strftime("%Y%m%d%H%M%S")


def _text(record: Mapping[str, Any], key: str) -> str:
    value = record.get(key)
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        raise DataError(f"Trường {key} phải là chuỗi.")
    return str(value).strip()


def dossier_from_package(
    record: Any, fields: Mapping[str, str] = PACKAGE_FIELDS, *, where: str = ""
) -> Dossier:
    """Map one national package record onto the canonical model; `raw` keeps the fields
    no column holds."""
    if not isinstance(record, Mapping):
        raise DataError(f"Bản ghi hồ sơ{where} không phải đối tượng JSON.")
    f = {**PACKAGE_FIELDS, **fields}
    code = _text(record, f["code"])
    if not code:
        raise DataError(f"Bản ghi hồ sơ{where} thiếu {f['code']}.")
    context = f" (hồ sơ {code[:40]}{where})"
    try:
        channel_raw = _text(record, f["channel"])
        status_raw = _text(record, f["status"])
        return Dossier(
            code=code,
            alt_code=_text(record, f["alt_code"]) or None,
            agency=Agency(_text(record, f["agency_code"]), _text(record, f["agency_name"])),
            procedure=Procedure(_text(record, f["procedure_code"]),
                                _text(record, f["procedure_name"]),
                                _text(record, f["field_code"])),
            channel=parse_code(Channel, channel_raw, f["channel"]),
            status=parse_code(Status, status_raw, f["status"]),
            channel_raw=channel_raw,
            status_raw=status_raw,
            received_at=parse_compact_datetime(record.get(f["received_at"]), f["received_at"]),
            due_at=parse_compact_datetime(record.get(f["due_at"]), f["due_at"]),
            finished_at=parse_compact_datetime(record.get(f["finished_at"]), f["finished_at"]),
            returned_at=parse_compact_datetime(record.get(f["returned_at"]), f["returned_at"]),
            rejected_at=parse_compact_datetime(record.get(f["rejected_at"]), f["rejected_at"]),
            synced_at=parse_compact_datetime(record.get(f["synced_at"]), f["synced_at"]),
            raw=wire.unmapped(record, dict.fromkeys(f.values(), True)),
        )
    except DataError as exc:
        raise DataError(f"{str(exc).rstrip('.')}{context}.") from None


def dossier_to_package(dossier: Dossier, fields: Mapping[str, str] = PACKAGE_FIELDS) -> dict[str, str]:
    """The inverse, as a one-stop system would push it (used by simulators)."""
    f = {**PACKAGE_FIELDS, **fields}
    return {
        f["code"]: dossier.code,
        f["alt_code"]: dossier.alt_code or "",
        f["procedure_code"]: dossier.procedure.code,
        f["procedure_name"]: dossier.procedure.name,
        f["field_code"]: dossier.procedure.field_code,
        f["agency_code"]: dossier.agency.code,
        f["agency_name"]: dossier.agency.name,
        f["channel"]: str(int(dossier.channel)),
        f["status"]: str(int(dossier.status)),
        f["received_at"]: format_compact_datetime(dossier.received_at),
        f["due_at"]: format_compact_datetime(dossier.due_at),
        f["finished_at"]: format_compact_datetime(dossier.finished_at),
        f["returned_at"]: format_compact_datetime(dossier.returned_at),
        f["rejected_at"]: format_compact_datetime(dossier.rejected_at),
        f["synced_at"]: format_compact_datetime(dossier.synced_at),
    }
