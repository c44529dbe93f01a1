"""The reconciler: which snapshots to compare, and what their differences mean.

The store does the set-based work (`nq57sync_storage.matching` pairs the
dossiers and counts them; `nq57sync_storage.lifecycle` records a run); this
module chooses the snapshots, names each difference as a discrepancy with its
advice, compares the figures and explains them, and checks the rules.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence

import attrs

from nq57sync import vi
from nq57sync.config import Config
from nq57sync.coverage import Coverage, cover
from nq57sync.errors import UsageError
from nq57sync.model import AggregateRow, Snapshot
from nq57sync.period import Period
from nq57sync.reconcile.figures import Figures, compare, fold_figures, impact, published_for
from nq57sync.reconcile.result import (
    KINDS,
    AggregateComparison,
    Discrepancy,
    ReconcileResult,
    discrepancy_id,
)
from nq57sync.rules import check_rules
from nq57sync.unmapped import describe as describe_unmapped
from nq57sync_storage import Store
from nq57sync_storage.lifecycle import Pair, Plan, RunRecord
from nq57sync_storage.matching import Delta, Difference, MatchRequest
from nq57sync_storage.store import iso, now_local
from nq57sync_storage.unmapped import unmapped_statuses

_KIND_ORDER = {k: i for i, k in enumerate(KINDS)}


@attrs.frozen
class Found:
    """The discrepancies of a run, and the codes of each one's dossier on either side."""

    discrepancies: tuple[Discrepancy, ...]
    dossier_of: Mapping[str, tuple[str | None, str | None]]   # discrepancy id → (left, right) code


class Reconciler:
    """Compares the newest complete snapshots of `left` and `right` for a period."""

    def __init__(self, store: Store, config: Config, pm: object = None) -> None:
        self.store = store
        self.config = config
        self.pm = pm

    def coverage(self, source: str, period: Period, lookaround: int = 0) -> Coverage:
        """The source's complete snapshots that hold the period (and look around it)."""
        return cover(source, period,
                     self.store.complete_overlapping(source, period.widened(lookaround)))

    def covers(self, period: Period) -> dict[str, Coverage]:
        """Both sides' coverage of the period; an error naming what is missing if incomplete."""
        rc = self.config.reconcile
        covers = {"left": self.coverage(rc.left, period),
                  "right": self.coverage(rc.right, period, rc.lookaround_days)}
        for found in covers.values():
            if not found.complete:
                raise UsageError(found.describe_missing())
        return covers

    def run(self, period: Period, *, left: Snapshot | None = None,
            right: Snapshot | None = None, record: bool = True) -> ReconcileResult:
        """Reconcile the period from the snapshots that cover it (or the two given)."""
        if left is not None and right is not None:
            covers = {side: Coverage(s.source, period, s, (s,), s.scope, ())
                      for side, s in (("left", left), ("right", right))}
        else:
            covers = self.covers(period)
        left, right = covers["left"].newest, covers["right"].newest
        assert left is not None and right is not None
        request = self._request(left, right, period, covers["left"].scope)
        matched = self.store.match(request, remember=record)
        differences = matched.differences
        figures: Figures = {side: fold_figures(cells) for side, cells in matched.cells.items()}
        found = self._discrepancies(differences)
        deltas = _explained(found, matched.deltas)
        published = {side: self._published_rows(c) for side, c in covers.items()}
        comparisons, notes = self._compare(covers, period, figures, published, deltas)
        notes += self._lookaround_note(covers["right"], period)
        violations, rule_notes = check_rules(self.store, self.config, covers, self.pm)
        notes += rule_notes
        unmapped = tuple(unmapped_statuses(self.store, left.id, period))
        if unmapped:
            notes.append(describe_unmapped(unmapped, left.source))
        left_count, right_count = (sum(row["received_total"] for row in figures[side].values())
                                   for side in ("left", "right"))
        unmatched = sum(1 for d in differences if d.kind == "missing_in_right")
        result = ReconcileResult(
            period, left, right, 0, left_count, right_count, left_count - unmatched,
            found.discrepancies, (), tuple(comparisons), tuple(violations),
            tuple(impact(figures)), tuple(notes), figures, covers["left"], covers["right"],
            {side: published_for(rows, period) or {} for side, rows in published.items()},
            self.store.agency_names((left.id, right.id), left.source),
            unmapped_statuses=unmapped)
        return self._record(result) if record else result

    def _request(self, left: Snapshot, right: Snapshot, period: Period, scope: str
                 ) -> MatchRequest:
        rc = self.config.reconcile
        grace = dt.timedelta(hours=rc.sync_grace_hours)
        return MatchRequest(left, right, period, scope, rc.date_tolerance_minutes,
                            iso(left.started_at - grace) or "")

    def _lookaround_note(self, right: Coverage, period: Period) -> list[str]:
        """Say so when the right side's copies could not be looked for beyond the period."""
        wider = period.widened(self.config.reconcile.lookaround_days)
        wide = cover(right.source, wider, self.store.complete_overlapping(right.source, wider))
        if wide.complete:
            return []
        gaps = ", ".join(f"{vi.date(p.start)}–{vi.date(p.end)}" for p in wide.missing[:2])
        return [f"{vi.source_name(right.source)} chưa có dữ liệu các ngày {gaps} quanh kỳ; hồ sơ mà "
                "nguồn này ghi ngày tiếp nhận lệch sang các ngày đó có thể bị báo là thiếu."]

    def _discrepancies(self, differences: Iterable[Difference]) -> Found:
        """Each difference as a discrepancy: its kind after the grace, stable id and advice."""
        rc = self.config.reconcile
        left, right, grace = rc.left, rc.right, rc.sync_grace_hours
        out = []
        dossier_of: dict[str, tuple[str | None, str | None]] = {}
        for d in differences:
            kind = "sync_pending" if d.pending else d.kind
            ident = discrepancy_id(left, right, d.code, d.kind, d.field)
            out.append(Discrepancy(
                ident, kind, d.kind, d.code, d.agency_code, d.procedure_code, d.field, d.left,
                d.right, d.day or "",
                action=vi.advice(kind, d.kind, d.field, d.left, d.right, grace, left, right)))
            dossier_of[ident] = d.dossier
        out.sort(key=lambda d: (_KIND_ORDER[d.kind], d.agency_code, d.dossier_code, d.field or ""))
        return Found(tuple(out), dossier_of)

    def _compare(self, covers: Mapping[str, Coverage], period: Period, figures: Figures,
                 rows: Mapping[str, list[AggregateRow]],
                 deltas: Mapping[tuple[str, str], Mapping[str, int]]
                 ) -> tuple[list[AggregateComparison], list[str]]:
        """Published figures compared when both sides published the period, else recomputed."""
        notes: list[str] = []
        published = {side: published_for(rows[side], period) for side in covers}
        if published["left"] is not None and published["right"] is not None:
            return compare(published, deltas, "published"), notes
        spans = {side: sorted({(a.period.start, a.period.end) for a in rows[side]})
                 for side in covers}
        described = "; ".join(
            f"{vi.source_name(c.source)}: "
            + (", ".join(f"{vi.date(a)}–{vi.date(b)}" for a, b in spans[side][:3])
               or "không công bố")
            for side, c in covers.items())
        notes.append(
            f"Số liệu công bố của hai nguồn không cùng kỳ ({described}) với kỳ "
            f"{vi.date(period.start)}–{vi.date(period.end)}; không so sánh số liệu công bố mà "
            "so sánh số liệu tính lại từ hồ sơ của từng nguồn.")
        return compare(figures, deltas, "dossiers"), notes

    def _published_rows(self, found: Coverage) -> list[AggregateRow]:
        """The published figures of every snapshot used, the newest for each agency and period."""
        out: dict[tuple[str, dt.date, dt.date], AggregateRow] = {}
        for snap in found.used:
            for row in self.store.aggregates(snap.id):
                out.setdefault((row.agency.code, row.period.start, row.period.end), row)
        return list(out.values())

    # -- lifecycle ----------------------------------------------------------------

    def _pair(self, result: ReconcileResult) -> Pair:
        rc = self.config.reconcile
        scope = result.left_cover.scope if result.left_cover else result.left.scope
        return Pair(rc.left, rc.right, result.period, scope)

    def preview(self, result: ReconcileResult) -> ReconcileResult:
        """The result with the states a recorded run would give, writing nothing."""
        now = iso(now_local()) or ""
        return _with_states(result, 0, self.store.plan_discrepancies(
            self._pair(result), result.discrepancies, now))

    def _record(self, result: ReconcileResult) -> ReconcileResult:
        # What a reader of the store (the dashboard) needs without recomputing the run;
        # nothing here scans beyond the run: trends are read back from the runs' figures.
        details = {"figures": result.figures, "published": result.published,
                   **result.figures_json()}
        run = RunRecord(result.left.id, result.right.id, result.period, iso(now_local()) or "",
                        len(result.discrepancies), result.summary_json(), details)
        run_id, plan = self.store.record_reconcile(run, self._pair(result), result.discrepancies)
        return _with_states(result, run_id, plan)


def _explained(found: Found, deltas: Sequence[Delta]) -> dict[tuple[str, str], dict[str, int]]:
    """Per (agency, metric): the amount each discrepancy explains.

    A dossier with several discrepancies accounts for its difference once,
    under its first discrepancy (the others are listed with 0).
    """
    ids_by_dossier: dict[tuple[str | None, str | None], list[str]] = defaultdict(list)
    for d in found.discrepancies:
        ids_by_dossier[found.dossier_of[d.id]].append(d.id)
    out: dict[tuple[str, str], dict[str, int]] = defaultdict(dict)
    for delta in deltas:
        first, *others = ids_by_dossier[delta.dossier]
        slot = out[(delta.agency_code, delta.metric)]
        slot[first] = delta.amount
        for other in others:
            slot[other] = 0
    return out


def _with_states(result: ReconcileResult, run_id: int, plan: Plan) -> ReconcileResult:
    resolved = tuple(
        Discrepancy(g.id, g.kind, g.base_kind, g.dossier_code, g.agency_code, g.procedure_code,
                    g.field, g.left_value, g.right_value, g.day, "resolved", g.first_seen,
                    "Đã khắc phục: hai hệ thống đã khớp.") for g in plan.gone)
    found = tuple(d.with_state(*plan.states[d.id]) for d in result.discrepancies)
    return attrs.evolve(result, run_id=run_id, discrepancies=found, resolved=resolved)
