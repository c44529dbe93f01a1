"""How people are told about status ids a source sent that no `status_map` names.

Such a dossier is stored with its raw id (`Status.UNMAPPED`) and counts as
pending; the sync summary, `doctor`, the report, the dashboard and reconcile's
JSON (`coverage.unmapped_status_ids`) say which ids, how many dossiers, the
system's own name for each, and the configuration line that would map them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from nq57sync import vi
from nq57sync_storage.unmapped import UnmappedStatus

#: What an unmapped status counts as in the form until it is mapped (4, in process).
PENDING_GUESS = 4


def status_map_line(ids: Iterable[str]) -> str:
    """The line to add to the source's table: `status_map = { "16" = 4, "17" = 4 }`."""
    entries = ", ".join(f"\"{k}\" = {PENDING_GUESS}"
                        for k in sorted(set(ids), key=lambda k: (len(k), k)))
    return f"status_map = {{ {entries} }}"


def describe(found: Iterable[UnmappedStatus], source: str) -> str:
    """One Vietnamese sentence: the ids with counts and names, and the line to add."""
    items = list(found)
    total = sum(u.count for u in items)
    listed = "; ".join(f"{u.id}" + (f" “{u.name}”" if u.name else "") + f": {vi.number(u.count)}"
                       for u in items)
    return (f"{vi.source_name(source)} có {vi.number(total)} hồ sơ mang mã trạng thái chưa ánh "
            f"xạ ({listed}), đang được tính là đang giải quyết; thêm vào mục [[source]] "
            f"“{source}”: {status_map_line(u.id for u in items)} (thay {PENDING_GUESS} = "
            f"{vi.STATUS_NAMES[PENDING_GUESS]} bằng mã TrangThaiHoSo đúng của từng trạng thái).")


def as_json(found: Iterable[UnmappedStatus], source: str = "") -> dict[str, Any]:
    """`coverage.unmapped_status_ids` ({id: count}) and, beside it, each id's name and the line."""
    items = list(found)
    out: dict[str, Any] = {"unmapped_status_ids": {u.id: u.count for u in items}}
    if items:
        out["unmapped_status_names"] = {u.id: u.name for u in items}
        out["unmapped_status_source"] = source
        out["status_map_line"] = status_map_line(u.id for u in items)
    return out


def merged(counts: Mapping[str, int], more: Iterable[UnmappedStatus]) -> dict[str, int]:
    out = dict(counts)
    for u in more:
        out[u.id] = out.get(u.id, 0) + u.count
    return out
