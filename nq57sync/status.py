"""`nq57sync status` and the daemon's `/healthz`: what ran, what will, what is wrong."""

from __future__ import annotations

from typing import Any

from nq57sync.workspace import Workspace


def collect(ws: Workspace) -> dict[str, Any]:
    store = ws.store
    jobs = {row["job_id"]: row for row in store.jobs()}
    sources = []
    # Configured sources first, then any the store knows that this configuration does not.
    stored = store.sources()
    for name in [*ws.sources, *(s for s in stored if s not in ws.sources)]:
        source = ws.sources.get(name)
        last = store.snapshots(name, 1)
        complete = store.latest_complete(name)
        limit = source.config.daily_request_budget if source else None
        used = ws.budget_used(name)
        job = jobs.get(f"sync:{name}", {})
        failures = int(job.get("failures") or 0)
        sources.append({
            "source": name, "plugin": source.plugin if source else (last[0].plugin if last else ""),
            "last_snapshot": last[0].id if last else None,
            "last_state": last[0].state if last else None,
            "last_error": last[0].error if last and last[0].state == "failed" else None,
            "last_complete_at": (complete.finished_at.isoformat()
                                 if complete and complete.finished_at else None),
            "consecutive_failures": failures,
            "requests_today": used, "request_budget": limit,
            "healthy": failures == 0 and (not last or last[0].state != "failed"),
        })
    open_by_kind = store.open_by_kind()
    return {
        "store": {"path": str(store.path), "bytes": store.size_bytes(),
                  "snapshots": len(store.snapshots())},
        "jobs": [{"job": j["job_id"], "last_run": j["last_run"], "last_status": j["last_status"],
                  "last_error": j["last_error"], "failures": j["failures"],
                  "next_run": j["next_run"]} for j in jobs.values()],
        "sources": sources,
        "open_discrepancies": {"total": sum(open_by_kind.values()), "by_kind": open_by_kind},
        "healthy": all(s["healthy"] for s in sources),
    }
