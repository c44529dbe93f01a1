"""Consistency rules: the arithmetic every published report must satisfy.

Built in: the identities of the standard form (domain.md), cumulative figures
that never go down between snapshots, and published figures against the
figures recomputed from the same source's dossiers. Users add rules in the
configuration as expressions over metric names; plugins through the hook.
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from nq57sync import vi
from nq57sync.config import Config, UserRule
from nq57sync.errors import ConfigError
from nq57sync.hooktypes import ConsistencyRule
from nq57sync.model import METRICS, Snapshot
from nq57sync.period import Period
from nq57sync_storage import Store

METRIC_NAMES_VI = {
    "carried_over": "kỳ trước chuyển qua", "received_online": "tiếp nhận trực tuyến",
    "received_direct": "tiếp nhận trực tiếp", "received_postal": "tiếp nhận qua bưu chính",
    "received_total": "tổng tiếp nhận", "resolved_early": "giải quyết trước hạn",
    "resolved_on_time": "giải quyết đúng hạn", "resolved_late": "giải quyết quá hạn",
    "resolved_total": "tổng đã giải quyết", "pending_in_time": "đang giải quyết trong hạn",
    "pending_overdue": "đang giải quyết quá hạn", "pending_total": "tổng đang giải quyết",
    "withdrawn": "rút hồ sơ", "rejected": "từ chối",
}
#: Figures of one period that only ever grow while the period is re-pulled.
CUMULATIVE = ("received_online", "received_direct", "received_postal", "received_total",
              "resolved_total", "withdrawn", "rejected")
#: Figures exactly recomputable from the dossiers received in the period.
RECOMPUTABLE = ("received_online", "received_direct", "received_postal")


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
                raise fail(f"không có chỉ tiêu “{node.id}”")
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


def check_rules(store: Store, config: Config, left: Snapshot, right: Snapshot, period: Period,
                figures: Mapping[str, Mapping[str, Mapping[str, int]]], pm: Any = None
                ) -> list[RuleViolation]:
    rules = all_rules(config, pm)
    out: list[RuleViolation] = []
    for side, snap in (("left", left), ("right", right)):
        rows = store.aggregates(snap.id)
        for row in rows:
            metrics = row.metrics()
            for rule in rules:
                detail = rule.check(metrics)
                if detail:
                    out.append(RuleViolation(
                        rule.name, snap.source, row.agency.code,
                        f"{row.agency.name or row.agency.code}, {vi.date(row.period.start)}–"
                        f"{vi.date(row.period.end)}: {detail}",
                        {k: metrics[k] for k in rule.values}))
        # Published figures against the same source's own dossiers.
        for row in rows:
            if not row.period.same_span(period):
                continue
            mine = figures[side].get(row.agency.code, dict.fromkeys(METRICS, 0))
            for metric in RECOMPUTABLE:
                published = getattr(row, metric)
                if published != mine[metric]:
                    out.append(RuleViolation(
                        "published_vs_dossiers", snap.source, row.agency.code,
                        f"{row.agency.name or row.agency.code}: số công bố "
                        f"{METRIC_NAMES_VI[metric]} là {vi.number(published)} nhưng đếm từ hồ sơ "
                        f"được {vi.number(mine[metric])}.",
                        {"metric": metric, "published": published, "dossiers": mine[metric]}))
        # Cumulative figures must not go down from the previous snapshot of the period.
        previous = store.query(
            "SELECT id FROM snapshots WHERE source = ? AND state = 'complete' AND id < ?"
            " AND period_start = ? AND period_end = ? ORDER BY id DESC LIMIT 1",
            (snap.source, snap.id, snap.period.start.isoformat(), snap.period.end.isoformat()))
        if previous:
            before = {(r.agency.code, r.period.start, r.period.end): r
                      for r in store.aggregates(previous[0]["id"])}
            for row in rows:
                old = before.get((row.agency.code, row.period.start, row.period.end))
                for metric in CUMULATIVE if old else ():
                    if getattr(row, metric) < getattr(old, metric):
                        out.append(RuleViolation(
                            "cumulative_non_decreasing", snap.source, row.agency.code,
                            f"{row.agency.name or row.agency.code}: {METRIC_NAMES_VI[metric]} giảm "
                            f"từ {vi.number(getattr(old, metric))} xuống "
                            f"{vi.number(getattr(row, metric))} so với ảnh chụp số "
                            f"{previous[0]['id']}.",
                            {"metric": metric, "before": getattr(old, metric),
                             "after": getattr(row, metric), "previous_snapshot": previous[0]["id"]}))
    return out
