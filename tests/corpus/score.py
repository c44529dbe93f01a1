"""Score a checker's findings against a truth file, by the matching rules of README.md.

A finding is a dict in the truth's own claim format: ``kind``, ``where``, ``figures``,
``consistent`` (``text`` and ``note`` are not needed). ``score(truth, findings)`` gives,
per kind, true positives (same claim, same verdict), misses, spurious findings, and the
false alarms (findings judged inconsistent where the truth has no inconsistent claim).
Claims marked ``optional`` count neither way unless the verdict differs.

This module does not import nq57sync: whoever writes the checker turns its findings
into this format and calls ``score``.
"""

from __future__ import annotations

import sys
from collections import Counter
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from check_truth import KINDS, number, squash


def _num(text: str) -> Decimal | str:
    try:
        return number(text)
    except ValueError:
        return squash(text)  # an unreadable figure such as '5.1?0' compares as printed


def _span(where: dict, key: str, plural: str) -> range:
    first, last = where.get(plural, [where[key], where[key]])
    return range(min(first, where[key]), max(last, where[key]) + 1)


def located(truth_where: dict, found_where: dict) -> bool:
    """Does a finding's location fall on the truth claim's location?"""
    if "table" in truth_where:
        if found_where.get("table") != truth_where["table"]:
            return False
        if squash(found_where.get("row", "")) != squash(truth_where["row"]):
            return False
        if squash(found_where.get("column", "")) != squash(truth_where["column"]):
            return False
        for key in ("group", "axis"):
            both = key in truth_where and key in found_where
            if both and squash(truth_where[key]) != squash(found_where[key]):
                return False
        return True
    if "paragraph" in truth_where:
        return found_where.get("paragraph") in _span(truth_where, "paragraph", "paragraphs")
    if "page" in truth_where and found_where.get("page") != truth_where["page"]:
        return False
    return found_where.get("line") in _span(truth_where, "line", "lines")


def _shape(claim: dict, as_kind: str) -> tuple:
    """The claim's figures as numbers, in the shape of ``as_kind``."""
    f = claim["figures"]
    kind = claim["kind"]
    if kind == "status" and as_kind == "sum":
        parts = [f["done"], f["in_progress"], *f.get("other", [])]
        return (_num(f["assigned"]), Counter(_num(p) for p in parts))
    if kind == "share" and as_kind == "fraction":
        return (_num(f["part"]), _num(f["whole"])) if isinstance(f["part"], str) else (None,)
    if as_kind == "sum":
        return (_num(f["total"]), Counter(_num(p) for p in f["parts"]))
    if as_kind == "share":
        parts = f["part"] if isinstance(f["part"], list) else [f["part"]]
        return (_num(f["stated"]), Counter(_num(p) for p in parts), _num(f["whole"]))
    if as_kind == "fraction":
        return (_num(f["done"]), _num(f["of"]))
    if as_kind == "status":
        return (_num(f["assigned"]), _num(f["done"]), _num(f["in_progress"]))
    if as_kind == "repeat":
        return (frozenset(_num(v) for v in f["values"]),)
    raise ValueError(as_kind)


def matches(truth_claim: dict, found: dict) -> bool:
    """Same claim: kind (or an accepted kind), location and figures as numbers."""
    kind = found["kind"]
    if kind != truth_claim["kind"] and kind not in truth_claim.get("accept_as", []):
        return False
    if truth_claim["kind"] == "repeat":
        places = [found["where"], found["figures"].get("where_else", {})]
        if not any(located(truth_claim["where"], w) for w in places):
            return False
    elif not located(truth_claim["where"], found["where"]):
        return False
    try:
        return _shape(truth_claim, kind) == _shape({**found, "kind": kind}, kind)
    except (KeyError, TypeError):
        return False


def score(truth: dict, findings: list[dict]) -> dict:
    """Per kind: tp, wrong_verdict, missed, spurious; and the list of false alarms."""
    per = {k: Counter() for k in KINDS}
    claims = truth["claims"]
    used: set[int] = set()
    false_alarms = []
    for found in findings:
        hit = next((i for i, c in enumerate(claims) if i not in used and matches(c, found)), None)
        if hit is None:
            per[found["kind"]]["spurious"] += 1
            if found["consistent"] is False:
                false_alarms.append(found)
            continue
        used.add(hit)
        claim = claims[hit]
        if claim["consistent"] == found["consistent"]:
            if not claim.get("optional"):
                per[claim["kind"]]["tp"] += 1
        else:
            per[claim["kind"]]["wrong_verdict"] += 1
            if found["consistent"] is False:
                false_alarms.append(found)
    for i, c in enumerate(claims):
        if i not in used and not c.get("optional"):
            per[c["kind"]]["missed"] += 1
    result = {}
    for k, n in per.items():
        found_n = n["tp"] + n["wrong_verdict"] + n["spurious"]
        truth_n = n["tp"] + n["wrong_verdict"] + n["missed"]
        result[k] = {
            **dict(n),
            "precision": n["tp"] / found_n if found_n else 1.0,
            "recall": n["tp"] / truth_n if truth_n else 1.0,
        }
    return {"kinds": result, "false_alarms": false_alarms}
