"""Status ids a source sent that no mapping names (`Status.UNMAPPED`, stored as 0).

The dossiers keep the source's id in `status_raw` and its own name for it in `raw`
(`dossierStatus.name` for iGate); reports, the dashboard, `doctor` and reconcile's
JSON (`coverage.unmapped_status_ids`) list them with their counts.
"""

from __future__ import annotations

import datetime as dt
import json

import attrs

from nq57sync.period import Period
from nq57sync_storage import Store


@attrs.frozen(kw_only=True)
class UnmappedStatus:
    """One unmapped id: how many dossiers carry it, and the system's name for it."""

    id: str
    count: int
    name: str = ""


def _name(value: object) -> str:
    """The name as stored: a string, or (JSON) a list of `{languageId, name}`."""
    if not isinstance(value, str):
        return ""
    if value.startswith("["):
        try:
            items = json.loads(value)
        except ValueError:
            return value
        names = [i.get("name") for i in items if isinstance(i, dict) and i.get("name")]
        return str(names[0]) if names else ""
    return value


def unmapped_statuses(store: Store, snapshot_id: int, period: Period | None = None
                      ) -> list[UnmappedStatus]:
    """The unmapped status ids among the dossiers as snapshot `snapshot_id` saw them
    (received in `period`, else in the snapshot's own period), most frequent first."""
    sql, params = store.as_of_sql(snapshot_id, within_scope=period is None)
    where = ""
    if period is not None:
        where = " AND received_at >= :unmapped_start AND received_at < :unmapped_end"
        params = {**params, "unmapped_start": period.start.isoformat(),
                  "unmapped_end": (period.end + dt.timedelta(days=1)).isoformat()}
    rows = store.query(
        "SELECT status_raw AS id, count(*) AS n,"
        " max(json_extract(raw, '$.dossierStatus.name')) AS name"
        f" FROM ({sql}) WHERE status = 0{where} GROUP BY status_raw ORDER BY n DESC, status_raw",
        params)
    return [UnmappedStatus(id=str(r["id"]), count=int(r["n"]), name=_name(r["name"]))
            for r in rows]


def unmapped_current(store: Store, source: str) -> list[UnmappedStatus]:
    """The unmapped status ids among a source's current dossiers (for `doctor`)."""
    rows = store.query(
        "SELECT v.status_raw AS id, count(*) AS n,"
        " max(json_extract(v.raw, '$.dossierStatus.name')) AS name"
        " FROM dossier_current AS k JOIN dossier_versions AS v ON v.id = k.version_id"
        " WHERE k.source = ? AND k.status = 0 GROUP BY v.status_raw ORDER BY n DESC, v.status_raw",
        (source,))
    return [UnmappedStatus(id=str(r["id"]), count=int(r["n"]), name=_name(r["name"]))
            for r in rows]
