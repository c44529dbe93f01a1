"""Consistency rules: the arithmetic every published report must satisfy.

Built in: the identities of the standard form (domain.md), cumulative figures
that never go down between snapshots, and published figures against the
figures recomputed from the same source's dossiers. Users add rules in the
configuration as expressions over metric names; plugins through the hook.
"""

from __future__ import annotations

import ast
import datetime as dt
import difflib
import operator
from collections import defaultdict
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from nq57sync import vi
from nq57sync.config import Config, UserRule
from nq57sync.coverage import Coverage, cover
from nq57sync.errors import ConfigError
from nq57sync.hooktypes import ConsistencyRule
from nq57sync.model import METRICS, VN_TZ, AggregateRow, Snapshot
from nq57sync.period import Period
from nq57sync_storage import Store

METRIC_NAMES_VI = vi.METRIC_NAMES  # the catalogue is `vi`'s
#: Figures of one period that only ever grow while the period is re-pulled.
CUMULATIVE = ("received_online", "received_direct", "received_postal", "received_total",
              "resolved_total", "withdrawn", "rejected")
#: Figures the period's own dossiers determine: new receipts by channel.
RECEIPTS = ("received_online", "received_direct", "received_postal")
#: Figures that also count the dossiers carried over from earlier periods.
OUTCOMES = ("carried_over", "received_total", "resolved_early", "resolved_on_time",
            "resolved_late", "resolved_total", "pending_in_time", "pending_overdue",
            "pending_total", "withdrawn", "rejected")
#: Totals and the parts they sum.
TOTALS = {"received_total": ("carried_over", *RECEIPTS),
          "resolved_total": ("resolved_early", "resolved_on_time", "resolved_late"),
          "pending_total": ("pending_in_time", "pending_overdue")}
#: Figures a paused dossier moves between, depending on the definition chosen.
PAUSABLE = ("pending_in_time", "pending_overdue", "pending_total")
#: Kept for plugins written against earlier versions.
RECOMPUTABLE = RECEIPTS


@attrs.frozen
class RuleViolation:
    rule: str
    source: str
    agency_code: str
    detail: str
    values: Mapping[str, Any]

    def as_json(self) -> dict[str, Any]:
        return {"rule": self.rule, "source": self.source, "agency_code": self.agency_code,
                "detail": self.detail, "values": dict(self.values)}


def _identity(name: str, total: str, parts: tuple[str, ...]) -> ConsistencyRule:
    def check(m: Mapping[str, int]) -> str | None:
        added = sum(m[p] for p in parts)
        if m[total] == added:
            return None
        return (f"{METRIC_NAMES_VI[total].capitalize()} {vi.number(m[total])} khác tổng các phần "
                f"{' + '.join(vi.number(m[p]) for p in parts)} = {vi.number(added)} "
                f"(lệch {vi.number(m[total] - added)}).")

    return ConsistencyRule(name, f"{total} = {' + '.join(parts)}", check, (total, *parts))


BUILT_IN = (
    _identity("received_parts", "received_total",
              ("carried_over", "received_online", "received_direct", "received_postal")),
    _identity("received_balance", "received_total",
              ("resolved_total", "pending_total", "withdrawn", "rejected")),
    _identity("resolved_parts", "resolved_total",
              ("resolved_early", "resolved_on_time", "resolved_late")),
    _identity("pending_parts", "pending_total", ("pending_in_time", "pending_overdue")),
)

# -- user rules ---------------------------------------------------------------------

_OPS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
    ast.Div: operator.truediv,
}
_COMPARE: dict[type, Callable[[float, float, float], bool]] = {
    ast.Eq: lambda a, b, t: abs(a - b) <= t, ast.NotEq: lambda a, b, t: abs(a - b) > t,
    ast.LtE: lambda a, b, t: a <= b + t, ast.GtE: lambda a, b, t: a + t >= b,
    ast.Lt: lambda a, b, t: a < b + t, ast.Gt: lambda a, b, t: a + t > b,
}


def compile_user_rule(rule: UserRule, where: str = "") -> ConsistencyRule:
    """`received_total == carried_over + received_online + …` with a tolerance."""
    def fail(reason: str) -> ConfigError:
        return ConfigError(f"{where}Quy tắc “{rule.name}”: {reason} (biểu thức “{rule.expression}”).")

    try:
        tree = ast.parse(rule.expression, mode="eval").body
    except SyntaxError:
        raise fail("biểu thức sai cú pháp") from None
    if not (isinstance(tree, ast.Compare) and len(tree.ops) == 1
            and type(tree.ops[0]) in _COMPARE):
        raise fail("cần đúng một phép so sánh (==, !=, <=, >=, <, >)")
    names: list[str] = []

    def value(node: ast.AST, m: Mapping[str, int]) -> float:
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
            return float(node.value)
        if isinstance(node, ast.Name) and node.id in METRICS:
            return float(m[node.id])
        if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
            right = value(node.right, m)
            if isinstance(node.op, ast.Div) and right == 0:
                return 0.0
            return float(_OPS[type(node.op)](value(node.left, m), right))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return -value(node.operand, m)
        raise ValueError(ast.unparse(node))

    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            if node.id not in METRICS:
                near = difflib.get_close_matches(node.id, METRICS, n=1)
                raise fail(f"không có chỉ tiêu “{node.id}”"
                           + (f" (có phải “{near[0]}”?)" if near else ""))
            names.append(node.id)
    sample = dict.fromkeys(METRICS, 1)
    try:
        value(tree.left, sample), value(tree.comparators[0], sample)
    except ValueError as exc:
        raise fail(f"không dùng được “{exc}”") from None
    compare = _COMPARE[type(tree.ops[0])]

    def check(m: Mapping[str, int]) -> str | None:
        lhs, rhs = value(tree.left, m), value(tree.comparators[0], m)
        if compare(lhs, rhs, rule.tolerance):
            return None
        return (f"Không thỏa {rule.expression}: vế trái {vi.number(lhs, 2)}, vế phải "
                f"{vi.number(rhs, 2)} (dung sai {vi.number(rule.tolerance, 2)}).")

    return ConsistencyRule(rule.name, rule.expression, check, tuple(dict.fromkeys(names)))


def all_rules(config: Config, pm: Any = None) -> list[ConsistencyRule]:
    where = f"Tệp cấu hình {config.path}: " if config.path else ""
    rules = [*BUILT_IN, *(compile_user_rule(r, where) for r in config.reconcile.rules)]
    if pm is not None:
        for extra in pm.hook.nq57sync_consistency_rules(config=config):
            rules.extend(extra or [])
    return rules


def check_rules(store: Store, config: Config, covers: Mapping[str, Coverage], pm: Any = None
                ) -> tuple[list[RuleViolation], list[str]]:
    """Every rule over the published figures of the snapshots each side was read from.

    Returns the violations and notes on what could not be checked and why.
    """
    rules = all_rules(config, pm)
    out: list[RuleViolation] = []
    notes: list[str] = []
    for found in covers.values():
        seen: set[tuple[str, dt.date, dt.date]] = set()
        for snap in found.used:
            rows = [r for r in store.aggregates(snap.id)
                    if (r.agency.code, r.period.start, r.period.end) not in seen]
            seen.update((r.agency.code, r.period.start, r.period.end) for r in rows)
            for row in rows:
                metrics = row.metrics()
                for rule in rules:
                    detail = rule.check(metrics)
                    if detail:
                        out.append(RuleViolation(
                            rule.name, snap.source, row.agency.code,
                            f"{_where(row)}: {detail}", {k: metrics[k] for k in rule.values}))
            checked, said = _published_vs_dossiers(store, config, snap, rows)
            out += checked
            notes += said
            out += _cumulative(store, snap, rows)
    return out, notes


def _where(row: AggregateRow) -> str:
    return (f"{row.agency.name or row.agency.code}, {vi.date(row.period.start)}–"
            f"{vi.date(row.period.end)}")


def _published_vs_dossiers(store: Store, config: Config, snap: Snapshot, rows: list[AggregateRow]
                           ) -> tuple[list[RuleViolation], list[str]]:
    """Each published figure against the same figure recomputed from the source's own dossiers.

    Recomputed for the figure's own counting period, from the dossiers as of
    the snapshot that published it, when the store holds every day of that
    period. New receipts depend only on the period's dossiers and are always
    compared; the outcome figures (resolved, pending, withdrawn, rejected) also
    count the dossiers carried over, so they are compared only when the store
    holds those too, as fresh as the period's close. A difference that paused
    dossiers (waiting for a supplement or a financial obligation) could make is
    a question of definition: it is said in a note, not blamed. A total is
    blamed only when its parts agree.
    """
    from nq57sync.reconcile.figures import AS_OF_NAMES_VI, matching_convention  # a cycle

    out: list[RuleViolation] = []
    notes: list[str] = []
    rc = config.reconcile
    by_period: dict[tuple[dt.date, dt.date], list[AggregateRow]] = defaultdict(list)
    for row in rows:
        by_period[(row.period.start, row.period.end)].append(row)
    for group in by_period.values():
        period = group[0].period
        earlier = [s for s in store.complete_overlapping(snap.source, period) if s.id <= snap.id]
        if not cover(snap.source, period, earlier).complete:
            notes.append(
                f"Số liệu công bố của {vi.source_name(snap.source)} kỳ {vi.date(period.start)}–"
                f"{vi.date(period.end)} chưa đối chiếu được với hồ sơ: kho chưa có đủ hồ sơ "
                "của kỳ đó.")
            continue
        close = min(snap.started_at, dt.datetime.combine(period.end, dt.time(23, 59, 59), VN_TZ))
        references = {"period_end": close, "snapshot": snap.started_at}
        agencies = [r.agency.code for r in group]
        as_of = rc.figures_as_of
        if as_of == "auto":
            counted_by = {c: store.standard_form(snap.id, period, agencies, when,
                                                 paused_pending=rc.paused == "pending")
                          for c, when in references.items()}
            found = matching_convention({r.agency.code: r.metrics() for r in group},
                                        counted_by, OUTCOMES)
            as_of = found or "period_end"
            if found and counted_by["period_end"] != counted_by["snapshot"]:
                said = (f"{vi.source_name(snap.source, short=True)} công bố số liệu "
                        f"{AS_OF_NAMES_VI[found]}; chỉ các chênh lệch theo cách tính này được "
                        "coi là vi phạm.")
                if said not in notes:
                    notes.append(said)
            mine = counted_by[as_of]
        else:
            mine = store.standard_form(snap.id, period, agencies, references[as_of],
                                       paused_pending=rc.paused == "pending")
        reference = references[as_of]
        unknown_carry: list[str] = []
        for row in group:
            counted = mine[row.agency.code]
            published = row.metrics()
            outcomes = (counted["carried_over"] == published["carried_over"]
                        and _fresh(store, snap, counted["first_carried"], period, reference))
            if not outcomes:
                unknown_carry.append(row.agency.name or row.agency.code)
            for metric in RECEIPTS + (OUTCOMES if outcomes else ()):
                difference = published[metric] - counted[metric]
                if not difference:
                    continue
                if metric in TOTALS and any(published[p] != counted[p] for p in TOTALS[metric]):
                    continue  # the part that differs is blamed, not the total it sums into
                if metric in PAUSABLE and counted["paused"] and abs(difference) <= counted["paused"]:
                    notes.append(
                        f"{_where(row)}: số {METRIC_NAMES_VI[metric]} công bố trên "
                        f"{vi.source_name(snap.source)} là {vi.number(published[metric])}, tính lại "
                        f"từ hồ sơ được "
                        f"{vi.number(counted[metric])}; chênh lệch có thể do cách tính "
                        f"{vi.number(counted['paused'])} hồ sơ đang chờ bổ sung hoặc thực hiện "
                        "nghĩa vụ tài chính (khóa reconcile.paused = \"pending\" hoặc "
                        "\"excluded\").")
                    continue
                members = store.standard_form_members(
                    snap.id, period, row.agency.code, metric, reference,
                    paused_pending=rc.paused == "pending") if difference < 0 else []
                which = (f" Hồ sơ được tính: {', '.join(members)}"
                         + (" …" if -difference > len(members) or len(members) == 10 else "") + "."
                         if members else "")
                out.append(RuleViolation(
                    "published_vs_dossiers", snap.source, row.agency.code,
                    f"{_where(row)}: số công bố {METRIC_NAMES_VI[metric]} là "
                    f"{vi.number(published[metric])} nhưng tính lại từ hồ sơ được "
                    f"{vi.number(counted[metric])} (lệch {vi.signed(difference)}).{which}",
                    {"metric": metric, "published": published[metric],
                     "dossiers": counted[metric], "difference": difference,
                     "dossier_codes": members}))
        if unknown_carry:
            notes.append(
                f"{vi.source_name(snap.source)}, kỳ {vi.date(period.start)}–{vi.date(period.end)}: chỉ "
                f"đối chiếu số tiếp nhận mới của {vi.number(len(unknown_carry))} đơn vị với hồ sơ; "
                "số đã giải quyết, đang giải quyết, rút và từ chối còn gồm hồ sơ kỳ trước chuyển "
                "qua mà kho chưa có đủ hoặc chưa cập nhật sau khi kỳ khóa sổ (hãy đồng bộ hoặc "
                "nhập cả kỳ trước).")
    return out, notes


def _fresh(store: Store, snap: Snapshot, first_carried: str | None, period: Period,
           reference: dt.datetime) -> bool:
    """Whether the dossiers carried into `period` were read after `reference` (or there are none)."""
    if first_carried is None:
        return True
    before = Period(dt.date.fromisoformat(first_carried), period.start - dt.timedelta(days=1))
    after = [s for s in store.complete_overlapping(snap.source, before)
             if s.id <= snap.id and s.started_at >= reference]
    return cover(snap.source, before, after).complete


def _cumulative(store: Store, snap: Snapshot, rows: list[AggregateRow]) -> list[RuleViolation]:
    """Cumulative figures must not go down from the previous snapshot of the same period."""
    out: list[RuleViolation] = []
    previous = store.previous_complete(snap)
    if previous is None:
        return out
    before = {(r.agency.code, r.period.start, r.period.end): r
              for r in store.aggregates(previous.id)}
    for row in rows:
        old = before.get((row.agency.code, row.period.start, row.period.end))
        for metric in CUMULATIVE if old else ():
            if getattr(row, metric) < getattr(old, metric):
                out.append(RuleViolation(
                    "cumulative_non_decreasing", snap.source, row.agency.code,
                    f"{row.agency.name or row.agency.code}: {METRIC_NAMES_VI[metric]} giảm "
                    f"từ {vi.number(getattr(old, metric))} xuống "
                    f"{vi.number(getattr(row, metric))} so với ảnh chụp số {previous.id}.",
                    {"metric": metric, "before": getattr(old, metric),
                     "after": getattr(row, metric), "previous_snapshot": previous.id}))
    return out
