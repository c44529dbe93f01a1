"""Figure arithmetic: standard-form figures from counted cells, published figures composed
across months, the comparison of two sides' figures, and the shares' impact."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping

from nq57sync import vi
from nq57sync.model import METRICS, AggregateRow
from nq57sync.period import Period
from nq57sync.reconcile.result import AggregateComparison, Impact
from nq57sync_storage.matching import Cell, metrics_of

#: side → agency → metric
Figures = Mapping[str, Mapping[str, Mapping[str, int]]]


def fold_figures(cells: Iterable[Cell]) -> dict[str, dict[str, int]]:
    """Standard-form figures recomputed from one side's dossiers (new receipts).

    SQL counts the few distinct (agency, channel, timeliness, withdrawn) cells;
    this folds them into the form's metrics.
    """
    out: dict[str, dict[str, int]] = {}
    for cell in cells:
        row = out.setdefault(cell.agency_code, dict.fromkeys(METRICS, 0))
        for metric in metrics_of(cell.channel, cell.timeliness, cell.withdrawn):
            row[metric] += cell.count
    return out


def compare(values: Figures, deltas: Mapping[tuple[str, str], Mapping[str, int]], basis: str
            ) -> list[AggregateComparison]:
    """Every figure that differs between the sides, with the discrepancies that explain it."""
    comparisons = []
    left, right = values["left"] or {}, values["right"] or {}
    for agency in sorted(set(left) | set(right)):
        lrow, rrow = left.get(agency, {}), right.get(agency, {})
        for metric in METRICS:
            lv, rv = lrow.get(metric, 0), rrow.get(metric, 0)
            if lv == rv:  # equal figures are no difference, whatever nets out inside
                continue
            cell = deltas.get((agency, metric), {})
            comparisons.append(AggregateComparison(agency, metric, lv, rv, sum(cell.values()),
                                                   tuple(sorted(cell)), basis))
    return comparisons


def published_for(rows: list[AggregateRow], period: Period
                   ) -> dict[str, dict[str, int]] | None:
    """One side's published figures for exactly `period`, composing calendar months.

    Flows add up across months; the stock at the start (carried over) is the
    first month's and the stocks at the end (pending) the last month's.
    """
    exact = [r for r in rows if r.period.same_span(period)]
    if exact:
        return {r.agency.code: r.metrics() for r in exact}
    if period.convention != "calendar":
        return None
    months = period.calendar_months()
    by_agency: dict[str, dict[tuple[int, int], AggregateRow]] = defaultdict(dict)
    for r in rows:
        if r.period.convention == "calendar" and r.period.days <= 31:
            by_agency[r.agency.code][(r.period.start.year, r.period.start.month)] = r
    if not by_agency or any(set(months) - set(m) for m in by_agency.values()):
        return None
    out = {}
    for agency, per_month in by_agency.items():
        chosen = [per_month[m].metrics() for m in months]
        total = {k: sum(c[k] for c in chosen) for k in METRICS}
        total["carried_over"] = chosen[0]["carried_over"]
        for stock in ("pending_in_time", "pending_overdue", "pending_total"):
            total[stock] = chosen[-1][stock]
        total["received_total"] = (total["carried_over"] + total["received_online"]
                                   + total["received_direct"] + total["received_postal"])
        out[agency] = total
    return out


def impact(figures: Mapping[str, Mapping[str, Mapping[str, int]]]) -> list[Impact]:
    def shares(row: Mapping[str, int] | None) -> tuple[float | None, float | None]:
        if not row:
            return None, None
        new = row["received_online"] + row["received_direct"] + row["received_postal"]
        return (vi.share(row["resolved_early"] + row["resolved_on_time"], row["resolved_total"]),
                vi.share(row["received_online"], new))

    out = []
    for agency in sorted(set(figures["left"]) | set(figures["right"])):
        on_now, online_now = shares(figures["right"].get(agency))
        on_healed, online_healed = shares(figures["left"].get(agency))
        out.append(Impact(agency, round4(on_now), round4(on_healed), round4(online_now),
                          round4(online_healed)))
    return out


def round4(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


#: The conventions by which a source's published outcome figures may be counted
#: (`[reconcile] figures_as_of`): at the period's close, or as of the pull.
AS_OF_CONVENTIONS = ("period_end", "snapshot")
#: How a note names the convention found, once per source.
AS_OF_NAMES_VI = {"period_end": "tính đến cuối kỳ, không phải thời điểm lấy",
                  "snapshot": "tính đến thời điểm lấy, không phải cuối kỳ"}


def matching_convention(published: Mapping[str, Mapping[str, int]],
                        counted: Mapping[str, Mapping[str, Mapping[str, int]]],
                        metrics: Iterable[str]) -> str | None:
    """The convention whose recomputed figures equal the published ones for most agencies,
    when the other's do not; None when neither or both do (nothing to choose).

    `counted` is convention → agency → metric. An agency counts for a convention when
    every metric of `metrics` agrees; a planted or real error in a few agencies' figures
    leaves the majority, so it is still found under the convention chosen.
    """
    names = tuple(metrics)
    agencies = [a for a in published if all(a in counted[c] for c in counted)]
    if not agencies:
        return None
    majority = len(agencies) // 2 + 1
    agreeing = {c: sum(1 for a in agencies
                       if all(published[a][m] == counted[c][a][m] for m in names))
                for c in counted}
    winners = [c for c, n in agreeing.items() if n >= majority]
    return winners[0] if len(winners) == 1 else None
