"""What the dashboard reads: small SQL queries with paging, never whole tables into Python.

The store owns every statement; the dashboard (`nq57sync.web.app`) calls these.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import attrs

from nq57sync.model import VN_TZ
from nq57sync.period import Period
from nq57sync_storage import Store
from nq57sync_storage.store import named

PAGE_SIZE = 50


@attrs.frozen
class Filters:
    agency: str = ""
    kind: str = ""
    procedure: str = ""
    state: str = "open"          # open | new | resolved | all
    page: int = 1


def periods(store: Store) -> list[Period]:
    """Reconciled periods, newest run first."""
    rows = store.query(
        "SELECT period_start, period_end, period_convention, max(id) AS run FROM reconcile_runs"
        " GROUP BY period_start, period_end ORDER BY run DESC LIMIT 24")
    return [Period(dt.date.fromisoformat(r["period_start"]), dt.date.fromisoformat(r["period_end"]),
                   r["period_convention"]) for r in rows]


def latest_run(store: Store, period: Period) -> dict[str, Any] | None:
    rows = store.query(
        "SELECT * FROM reconcile_runs WHERE period_start = ? AND period_end = ?"
        " ORDER BY id DESC LIMIT 1", (period.start.isoformat(), period.end.isoformat()))
    if not rows:
        return None
    run = rows[0]
    run["summary"] = json.loads(run["summary"])
    run["details"] = json.loads(run["details"] or "{}")
    snaps = {r["id"]: r for r in store.query(
        "SELECT id, source, finished_at FROM snapshots WHERE id IN (?, ?)",
        (run["left_snapshot"], run["right_snapshot"]))}
    run["left"], run["right"] = snaps.get(run["left_snapshot"]), snaps.get(run["right_snapshot"])
    return run


def agency_names(store: Store, run: dict[str, Any]) -> dict[str, str]:
    rows = store.query(
        "SELECT DISTINCT agency_code, agency_name FROM aggregates WHERE snapshot_id IN (?, ?)",
        (run["left_snapshot"], run["right_snapshot"]))
    return {r["agency_code"]: r["agency_name"] for r in rows if r["agency_name"]}


def _where(run: dict[str, Any], filters: Filters) -> tuple[str, dict[str, Any]]:
    left = run["left"]["source"] if run.get("left") else ""
    right = run["right"]["source"] if run.get("right") else ""
    clauses = ["left_source = :l", "right_source = :r", "day >= :start", "day <= :end"]
    params: dict[str, Any] = {"l": left, "r": right, "start": run["period_start"],
                              "end": run["period_end"]}
    if filters.state == "new":
        clauses.append("state = 'open' AND first_run = :run")
        params["run"] = run["id"]
    elif filters.state in ("open", "resolved"):
        clauses.append("state = :state")
        params["state"] = filters.state
    for column in ("agency", "kind"):
        value = getattr(filters, column)
        if value:
            clauses.append(f"{'agency_code' if column == 'agency' else 'kind'} = :{column}")
            params[column] = value
    if filters.procedure:
        clauses.append("procedure_code = :procedure")
        params["procedure"] = filters.procedure
    return " AND ".join(clauses), params


def discrepancy_page(store: Store, run: dict[str, Any], filters: Filters
                     ) -> tuple[list[dict[str, Any]], int]:
    where, params = _where(run, filters)
    total = store.query(f"SELECT count(*) AS n FROM discrepancies WHERE {where}", params)[0]["n"]
    offset = (max(1, filters.page) - 1) * PAGE_SIZE
    rows = store.query(
        f"SELECT * FROM discrepancies WHERE {where}"
        f" ORDER BY last_seen DESC, first_seen DESC, id LIMIT {PAGE_SIZE} OFFSET {offset}", params)
    return rows, total


def counts(store: Store, run: dict[str, Any], filters: Filters, column: str
           ) -> list[dict[str, Any]]:
    where, params = _where(run, attrs.evolve(filters, **{
        "kind" if column == "kind" else "agency": ""}))
    return store.query(f"SELECT {column} AS key, count(*) AS n FROM discrepancies WHERE {where}"
                       f" GROUP BY {column} ORDER BY n DESC LIMIT 60", params)


#: A dossier's current version, found through the current state (keyed by code,
#: indexed by other code).
_CURRENT = "SELECT v.* FROM dossier_current AS k JOIN dossier_versions AS v ON v.id = k.version_id"


def dossier(store: Store, code: str, left: str, right: str) -> dict[str, Any]:
    """Both sides' current versions of one dossier (by either of its codes)."""
    found = {}
    for side, source in (("left", left), ("right", right)):
        rows = store.query(
            named(f"{_CURRENT} WHERE k.source = :s AND k.code = :c UNION ALL {_CURRENT}"
                  " WHERE k.source = :s AND k.alt_code = :c LIMIT 1"), {"s": source, "c": code})
        found[side] = rows[0] if rows else None
    if found["right"] is None and found["left"] and found["left"]["alt_code"]:
        rows = store.query(named(f"{_CURRENT} WHERE k.source = ? AND k.code = ?"),
                           (right, found["left"]["alt_code"]))
        found["right"] = rows[0] if rows else None
    found["discrepancies"] = store.query(
        "SELECT * FROM discrepancies WHERE dossier_code = ? ORDER BY state, kind", (code,))
    return found


def opened_and_resolved(store: Store, days: int = 60) -> list[dict[str, Any]]:
    return store.query(
        "SELECT day, sum(opened) AS opened, sum(resolved) AS resolved FROM ("
        " SELECT substr(first_seen, 1, 10) AS day, 1 AS opened, 0 AS resolved FROM discrepancies"
        " UNION ALL SELECT substr(resolved_at, 1, 10), 0, 1 FROM discrepancies"
        " WHERE resolved_at IS NOT NULL) GROUP BY day ORDER BY day DESC LIMIT ?", (days,))[::-1]


def index_trend(store: Store, limit: int = 12) -> list[dict[str, Any]]:
    rows = store.query(
        "SELECT s.id, s.finished_at, i.groups FROM snapshots s JOIN index_scores i"
        " ON i.snapshot_id = s.id WHERE s.id IN (SELECT id FROM snapshots WHERE state = 'complete'"
        " AND index_count > 0 ORDER BY id DESC LIMIT ?) ORDER BY s.id", (limit,))
    per: dict[int, dict[str, Any]] = {}
    for r in rows:
        entry = per.setdefault(r["id"], {"id": r["id"], "at": r["finished_at"], "sum": {}, "n": 0})
        entry["n"] += 1
        for group, value in json.loads(r["groups"]).items():
            entry["sum"][group] = entry["sum"].get(group, 0.0) + value
    return [{"id": e["id"], "at": e["at"],
             "groups": {g: v / e["n"] for g, v in e["sum"].items()}} for e in per.values()]


def version_stamp(store: Store) -> dict[str, int]:
    """Changes whenever a sync or a reconciliation lands: the page polls it."""
    row = store.query("SELECT (SELECT coalesce(max(id), 0) FROM snapshots WHERE state != 'running')"
                      " AS snapshot, (SELECT coalesce(max(id), 0) FROM reconcile_runs) AS run")[0]
    return {"snapshot": row["snapshot"], "run": row["run"]}


def period_trend(store: Store, limit: int = 12) -> list[dict[str, Any]]:
    """Received, resolved and late per reconciled period (latest run of each), oldest first."""
    rows = store.query(
        "SELECT r.period_start, r.period_end, r.details FROM reconcile_runs r JOIN ("
        " SELECT max(id) AS id FROM reconcile_runs GROUP BY period_start, period_end"
        " ORDER BY id DESC LIMIT ?) latest ON latest.id = r.id ORDER BY r.period_start", (limit,))
    out = []
    for r in rows:
        figures = json.loads(r["details"] or "{}").get("figures", {}).get("left", {})
        total = {k: sum(m.get(k, 0) for m in figures.values())
                 for k in ("received_total", "resolved_total", "resolved_late")}
        under_way = r["period_end"] >= dt.datetime.now(VN_TZ).date().isoformat()
        out.append({"month": f"{r['period_start']}", "label":
                    f"{r['period_start'][8:10]}/{r['period_start'][5:7]}–"
                    f"{r['period_end'][8:10]}/{r['period_end'][5:7]}/{r['period_end'][:4]}"
                    + (" (chưa hết kỳ)" if under_way else ""),
                    "received": total["received_total"], "resolved": total["resolved_total"],
                    "late": total["resolved_late"]})
    return out
