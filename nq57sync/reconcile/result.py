"""What a reconciliation found: discrepancies, figure comparisons, impact — and its JSON."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Mapping
from typing import Any

import attrs

from nq57sync.coverage import Coverage
from nq57sync.model import Snapshot
from nq57sync.period import Period
from nq57sync.rules import RuleViolation
from nq57sync_storage.unmapped import UnmappedStatus

KINDS = ("missing_in_right", "missing_in_left", "status_mismatch", "timeliness_mismatch",
         "channel_mismatch", "procedure_mismatch", "agency_mismatch", "date_mismatch",
         "sync_pending")


@attrs.frozen
class Discrepancy:
    id: str
    kind: str
    base_kind: str
    dossier_code: str
    agency_code: str
    procedure_code: str
    field: str | None
    left: str | None
    right: str | None
    day: str
    state: str = "new"
    first_seen: str = ""
    action: str = ""

    def with_state(self, state: str, first_seen: str) -> Discrepancy:
        """A copy in a lifecycle state (direct, as `attrs.evolve` is slow over 40,000 records)."""
        return Discrepancy(self.id, self.kind, self.base_kind, self.dossier_code, self.agency_code,
                           self.procedure_code, self.field, self.left, self.right, self.day, state,
                           first_seen, self.action)

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "dossier_code": self.dossier_code,
                "agency_code": self.agency_code, "procedure_code": self.procedure_code,
                "field": self.field, "left": self.left, "right": self.right,
                "state": self.state, "first_seen": self.first_seen, "action": self.action}


@attrs.frozen
class AggregateComparison:
    agency_code: str
    metric: str
    left: int
    right: int
    explained: int
    explained_by: tuple[str, ...]
    basis: str                      # "published" or "dossiers"

    @property
    def difference(self) -> int:
        return self.left - self.right

    @property
    def unexplained(self) -> int:
        return self.difference - self.explained

    def as_json(self) -> dict[str, Any]:
        return {"agency_code": self.agency_code, "metric": self.metric, "left": self.left,
                "right": self.right, "difference": self.difference,
                "explained_by": list(self.explained_by), "explained": self.explained,
                "unexplained": self.unexplained, "basis": self.basis}


@attrs.frozen
class Impact:
    """How an agency's shares on the right side would move if every discrepancy healed."""

    agency_code: str
    on_time_now: float | None
    on_time_healed: float | None
    online_now: float | None
    online_healed: float | None

    @staticmethod
    def _points(now: float | None, healed: float | None) -> float | None:
        return None if now is None or healed is None else round(100 * (healed - now), 2)

    def as_json(self) -> dict[str, Any]:
        return {"agency_code": self.agency_code,
                "on_time_share": {"now": self.on_time_now, "healed": self.on_time_healed,
                                  "points": self._points(self.on_time_now, self.on_time_healed)},
                "online_share": {"now": self.online_now, "healed": self.online_healed,
                                 "points": self._points(self.online_now, self.online_healed)}}


@attrs.frozen
class ReconcileResult:
    period: Period
    left: Snapshot
    right: Snapshot
    run_id: int
    left_dossiers: int
    right_dossiers: int
    matched: int
    discrepancies: tuple[Discrepancy, ...]
    resolved: tuple[Discrepancy, ...]
    aggregates: tuple[AggregateComparison, ...]
    rule_violations: tuple[RuleViolation, ...]
    impact: tuple[Impact, ...]
    notes: tuple[str, ...]
    figures: Mapping[str, Mapping[str, Mapping[str, int]]]   # side → agency → metric
    left_cover: Coverage | None = None     # the snapshots each side was read from
    right_cover: Coverage | None = None
    #: Each side's published figures for exactly the period (calendar months composed);
    #: an empty mapping where a side published none for it. side → agency → metric.
    published: Mapping[str, Mapping[str, Mapping[str, int]]] = attrs.field(
        factory=lambda: {"left": {}, "right": {}})
    #: Agency code → name, as the snapshots used know them (for reports and pages).
    agency_names: Mapping[str, str] = attrs.field(factory=dict)
    #: The left side's status ids no `status_map` names, among the period's dossiers.
    unmapped_statuses: tuple[UnmappedStatus, ...] = ()

    def by_kind(self) -> dict[str, int]:
        counts: dict[str, int] = defaultdict(int)
        for d in self.discrepancies:
            counts[d.kind] += 1
        return {k: counts[k] for k in KINDS if counts[k]}

    def as_json(self) -> dict[str, Any]:
        def side(s: Snapshot, found: Coverage | None) -> dict[str, Any]:
            return {"source": s.source, "snapshot": s.id,
                    "taken_at": (s.finished_at or s.started_at).isoformat(),
                    "snapshots": found.as_json() if found else
                    [{"id": s.id, "kind": s.kind, "period": s.period.as_json(),
                      "label": s.period.label}]}

        return self._with_unmapped({
            "period": self.period.as_json(),
            "left": side(self.left, self.left_cover), "right": side(self.right, self.right_cover),
            "summary": self.summary_json(),
            "discrepancies": [d.as_json() for d in (*self.discrepancies, *self.resolved)],
            **self.figures_json(),
        })

    def _with_unmapped(self, out: dict[str, Any] | None = None) -> dict[str, Any]:
        """`coverage` (whatever else it holds) with `unmapped_status_ids` ({id: count}),
        each id's name and the `status_map` line that would map them."""
        from nq57sync.unmapped import as_json

        out = dict(out or {})
        out["coverage"] = {**out.get("coverage", {}),
                           **as_json(self.unmapped_statuses, self.left.source)}
        return out

    def summary_json(self) -> dict[str, Any]:
        return {"left_dossiers": self.left_dossiers, "right_dossiers": self.right_dossiers,
                "matched": self.matched, "discrepancies": len(self.discrepancies),
                "by_kind": self.by_kind(), "resolved": len(self.resolved)}

    def figures_json(self) -> dict[str, Any]:
        """The figure-level part of the JSON: comparisons, rule violations, impact, notes."""
        return {"aggregates": [a.as_json() for a in self.aggregates],
                "rule_violations": [v.as_json() for v in self.rule_violations],
                "impact": [i.as_json() for i in self.impact],
                "notes": list(self.notes)}


def discrepancy_id(left: str, right: str, code: str, base_kind: str, field: str | None) -> str:
    key = f"{left}|{right}|{code}|{field or base_kind}"
    return hashlib.blake2b(key.encode(), digest_size=8).hexdigest()
