"""The national code lists (domain.md) that the canonical model speaks.

Each plugin maps its source's codes onto these and keeps the raw value.
"""

from __future__ import annotations

import enum
import functools
import re
import unicodedata

from nq57sync import vi
from nq57sync.errors import DataError


class Status(enum.IntEnum):
    """`TrangThaiHoSo`; `UNMAPPED` (0, not a national code) is a source's status id that no
    mapping names: the raw id is kept, and the dossier counts as pending."""

    UNMAPPED = 0
    SUBMITTED = 1
    RECEIVED = 2
    NOT_RECEIVED = 3
    IN_PROCESS = 4
    SUPPLEMENT_REQUESTED = 5
    FINANCIAL_OBLIGATION = 6
    WITHDRAWAL_REQUESTED = 7
    STOPPED = 8
    FINISHED = 9
    RETURNED = 10


class Channel(enum.IntEnum):
    """`KenhThucHien`."""

    DIRECT = 1
    ONLINE = 2
    POSTAL = 3


class ApplicantType(enum.IntEnum):
    """`LoaiDoiTuong`."""

    CITIZEN = 1
    ENTERPRISE = 2
    STATE_AGENCY = 3
    OTHER = 4


STATUS_NAMES_VI: dict[Status, str] = {Status(k): name for k, name in vi.STATUS_NAMES.items()}
CHANNEL_NAMES_VI: dict[Channel, str] = {Channel(k): name for k, name in vi.CHANNEL_NAMES.items()}

#: Statuses after which a dossier no longer counts as pending.
FINISHED_STATUSES = frozenset({Status.FINISHED, Status.RETURNED})
#: Statuses that take a dossier out of the resolved/pending balance.
WITHDRAWN_STATUSES = frozenset({Status.WITHDRAWAL_REQUESTED})
REJECTED_STATUSES = frozenset({Status.NOT_RECEIVED})


def _fold(text: str) -> str:
    """Case- and whitespace-insensitive key for matching displayed names."""
    return re.sub(r"\s+", " ", unicodedata.normalize("NFC", text)).strip().casefold()


STATUS_ALIASES_VI = {name: Status(k) for name, k in vi.STATUS_ALIASES.items()}
_STATUS_BY_NAME = {_fold(name): status for status, name in STATUS_NAMES_VI.items()} | {
    _fold(name): status for name, status in STATUS_ALIASES_VI.items()}
_CHANNEL_BY_NAME = {_fold(name): channel for channel, name in CHANNEL_NAMES_VI.items()} | {
    _fold("Bưu chính công ích"): Channel.POSTAL}


@functools.lru_cache(maxsize=256)  # a handful of names, on every row of an export
def status_from_name(name: str) -> Status:
    try:
        return _STATUS_BY_NAME[_fold(name)]
    except KeyError:
        raise DataError(f"Trạng thái hồ sơ không xác định: “{name.strip()[:60]}”.") from None


@functools.lru_cache(maxsize=256)
def channel_from_name(name: str) -> Channel:
    try:
        return _CHANNEL_BY_NAME[_fold(name)]
    except KeyError:
        raise DataError(f"Kênh tiếp nhận không xác định: “{name.strip()[:60]}”.") from None


def parse_code(enum_type: type[enum.IntEnum], value: object, what: str) -> enum.IntEnum:
    """A code as the wire sends it (`"2"`, `2`) mapped onto its enum."""
    try:
        return enum_type(int(str(value).strip()))
    except (ValueError, TypeError):
        raise DataError(f"Mã {what} không hợp lệ: “{str(value)[:40]}”.") from None
