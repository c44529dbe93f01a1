"""Small, strict readers for values as sources send them.

Everything a plugin parses goes through these, so garbage always becomes the
project's own `DataError` and never a `KeyError` or `TypeError`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
from collections.abc import Mapping
from typing import Any

from nq57sync.errors import DataError
from nq57sync.model import VN_TZ


def mapping(value: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise DataError(f"{what}: cần một đối tượng JSON, nhận được {type(value).__name__}.")
    return value


def array(value: Any, what: str) -> list[Any]:
    if not isinstance(value, list):
        raise DataError(f"{what}: cần một mảng JSON, nhận được {type(value).__name__}.")
    return value


def text(record: Mapping[str, Any], key: str, what: str, *, required: bool = False) -> str:
    value = record.get(key)
    if value is None or value == "":
        if required:
            raise DataError(f"{what}: thiếu trường {key}.")
        return ""
    if isinstance(value, (dict, list, bool)):
        raise DataError(f"{what}: trường {key} phải là chuỗi.")
    return str(value).strip()


def unmapped(record: Mapping[str, Any], mapped: Mapping[str, Any]) -> dict[str, Any]:
    """The record's fields the model has no column for: what `Dossier.raw` keeps.

    `mapped` names the fields read into columns; a nested mapping names the
    fields read out of a nested object, whose other fields are kept. Storing
    only these keeps the store to what a dossier is, not how it arrived: a
    national package record is ~450 bytes of JSON, every field in a column.
    """
    rest = {}
    for key, value in record.items():
        inner = mapped.get(key)
        if inner is None:
            rest[key] = value
        elif (isinstance(inner, Mapping) and isinstance(value, Mapping)
              and (kept := unmapped(value, inner))):
            rest[key] = kept
    return rest


_VI_INT = re.compile(r"^-?\d{1,3}(\.\d{3})+$")


#: The largest count taken: SQLite's integers are 64-bit, and no real figure comes near.
MAX_COUNT = 10**12


def count(value: Any, what: str) -> int:
    """A count as a number, a string ("1437") or in Vietnamese format ("1.437").

    Counts are never negative nor absurdly large: either is a data error.
    """
    if isinstance(value, bool):
        raise DataError(f"{what}: “{value}” không phải số đếm.")
    result: int | None = None
    if isinstance(value, int):
        result = value
    elif isinstance(value, float) and value.is_integer():
        result = int(value)
    elif isinstance(value, str):
        stripped = value.strip()
        if stripped in ("", "-"):
            return 0
        if _VI_INT.match(stripped):
            stripped = stripped.replace(".", "")
        if len(stripped) <= 20:
            with contextlib.suppress(ValueError):
                result = int(stripped)
    if result is None:
        raise DataError(f"{what}: “{str(value)[:30]}” không phải số đếm.")
    if not 0 <= result <= MAX_COUNT:
        raise DataError(f"{what}: số đếm {str(result)[:30]} nằm ngoài khoảng hợp lệ "
                        "(không âm, không quá 10¹²).")
    return result


def score(value: Any, what: str) -> float:
    """A score as the portal sends it ("17.50"), Vietnamese decimal comma accepted."""
    if isinstance(value, bool):
        raise DataError(f"{what}: “{value}” không phải điểm số.")
    if isinstance(value, (int, float)):
        result = float(value)
    else:
        try:
            result = float(str(value).strip().replace(",", "."))
        except ValueError:
            raise DataError(f"{what}: “{str(value)[:30]}” không phải điểm số.") from None
    if result != result or result in (float("inf"), float("-inf")):
        raise DataError(f"{what}: điểm số không hữu hạn.")
    return result


def instant(value: Any, what: str) -> dt.datetime | None:
    """An ISO-8601 instant with offset (or Z); a naive one is Vietnam time."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise DataError(f"{what}: ngày giờ phải là chuỗi ISO-8601.")
    try:
        parsed = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        local = (parsed.replace(tzinfo=VN_TZ) if parsed.tzinfo is None
                 else parsed.astimezone(VN_TZ))
    except (ValueError, OverflowError):
        raise DataError(f"{what}: “{value[:40]}” không phải ngày giờ ISO-8601.") from None
    return plausible(local, what)


#: Instants a dossier can carry: the one-stop systems began in 2015; due dates lie at
#: most a year ahead (a mistyped 9999 from the wire replaced a source's dates).
EARLIEST_YEAR = 2015
AHEAD = dt.timedelta(days=366)


def plausible(value: dt.datetime, what: str) -> dt.datetime:
    """An instant a real dossier can have: from 01/01/2015 to a year after today."""
    latest = dt.datetime.now(VN_TZ).date() + AHEAD
    if not dt.date(EARLIEST_YEAR, 1, 1) <= value.date() <= latest:
        raise DataError(f"{what}: ngày {value:%d/%m/%Y} nằm ngoài khoảng hợp lệ (01/01/"
                        f"{EARLIEST_YEAR}–{latest:%d/%m/%Y}); dữ liệu của nguồn sai, không lưu.")
    return value


def utc_z(value: dt.datetime) -> str:
    """The form iGate clients send: `2025-10-31T17:00:00.000Z`."""
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def day_bounds(start: dt.date, end: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """A range of local calendar days as instants: 00:00:00.000 to 23:59:59.999."""
    return (dt.datetime.combine(start, dt.time(0), VN_TZ),
            dt.datetime.combine(end, dt.time(23, 59, 59, 999000), VN_TZ))
