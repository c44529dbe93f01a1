"""What a report's figures are, and how they compare with the store: repeats and sources.

A figure in `hồ sơ` (or a share) is named by the words of its clause — the
standard form's metric it states (received online, resolved on time, …) —
the same words a centre uses in its reports.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from decimal import Decimal

import attrs

from nq57sync import vi
from nq57sync.checkreport.checks import Block, Check
from nq57sync.checkreport.reading import Figure, vn

#: Clauses about another period or a comparison: their figures are not this period's.
_ELSEWHERE = re.compile(r"cung ky|ky truoc|thang truoc|quy truoc|nam truoc|luy ke|so voi|"
                        r"ke hoach|muc tieu|chi tieu giao")
SHARES = {"online_share": (("received_online",),
                           ("received_online", "received_direct", "received_postal")),
          "on_time_share": (("resolved_early", "resolved_on_time"), ("resolved_total",))}


def _clause(block: Block, figure: Figure) -> str:
    """The folded words of the figure's clause: before it back to a boundary, after its unit."""
    folded = block.folded
    start = max(folded.rfind(c, 0, figure.start) for c in (",", ";", ":", "(", " va "))
    if folded.startswith(" va ", start):
        start += 3
    marker = max(folded.rfind(w, 0, figure.start) for w in ("trong do", "gom"))
    start = max(start, marker + 8 if marker >= 0 else -1)
    after = re.search(r"[,;:.()]| va ", folded[figure.unit_end:])
    end = figure.unit_end + after.start() if after else len(folded)
    return f"{folded[start + 1:figure.start]} | {folded[figure.unit_end:end]}"


def metric_of(block: Block, figure: Figure) -> str:
    """The standard-form metric (or share) a figure states, or "" when its words do not say."""
    if figure.unit not in ("ho so", "%"):
        return ""
    words = _clause(block, figure)
    if _ELSEWHERE.search(words):
        return ""
    if figure.is_percent:
        if "ty le" not in words and "dat" not in words:
            return ""
        if "truc tuyen" in words:
            return "online_share"
        if "dung han" in words or "truoc han" in words:
            return "on_time_share"
        return ""
    if re.search(r"dang (?:giai quyet|xu ly)", words):
        return ("pending_overdue" if "qua han" in words else
                "pending_in_time" if "trong han" in words else "pending_total")
    if "truoc han" in words and "dung han" in words:
        return ""
    for pattern, metric in (("truoc han", "resolved_early"), ("dung han", "resolved_on_time"),
                            ("qua han", "resolved_late"),
                            (r"da giai quyet|giai quyet xong|da tra ket qua", "resolved_total"),
                            (r"\brut\b", "withdrawn"), ("truc tuyen", "received_online"),
                            ("truc tiep", "received_direct"), ("buu chinh", "received_postal"),
                            (r"tiep nhan|tong so ho so", "received_total")):
        if re.search(pattern, words):
            return metric
    return ""


@attrs.frozen
class Stated:
    """A figure the report states, with what it is."""

    block: Block
    figure: Figure
    metric: str


def stated_metrics(all_blocks: Sequence[Block]) -> list[Stated]:
    out = []
    for block in all_blocks:
        if " | " in block.text:
            continue  # a table row belongs to a breakdown the words around it name
        for figure in block.figures:
            metric = metric_of(block, figure)
            if metric:
                out.append(Stated(block, figure, metric))
    return out


def repeat_checks(stated: Sequence[Stated]) -> Iterator[Check]:
    """The same quantity stated twice with two values."""
    first: dict[str, Stated] = {}
    for s in stated:
        seen = first.setdefault(s.metric, s)
        if seen is s or seen.block is s.block:
            continue  # one sentence lists parts; a repeat is the same quantity stated elsewhere
        a, b = seen.figure, s.figure
        line = s.block.line_at(b.start)
        label = vi.METRIC_NAMES.get(s.metric, SHARE_NAMES.get(s.metric, s.metric))
        if a.value == b.value:
            yield Check("repeat", "ok", line, s.block.excerpt(b.start, b.end), b.text, a.text,
                        (a.text, b.text), f"Số {label} ghi hai lần, cùng giá trị {b.text}.",
                        s.metric)
        else:
            yield Check("repeat", "mismatch", line, s.block.excerpt(b.start, b.end), b.text,
                        a.text, (a.text, b.text),
                        f"Số {label} ghi {b.text} ở dòng {line} nhưng {a.text} ở dòng "
                        f"{seen.block.line_at(a.start)}; cần thống nhất một giá trị.", s.metric)


SHARE_NAMES = {"online_share": "tỷ lệ hồ sơ trực tuyến",
               "on_time_share": "tỷ lệ giải quyết đúng hạn"}


@attrs.frozen
class Reference:
    """Both sources' figures for the report's period (and agency), and what explains them."""

    names: Mapping[str, str]                              # side → display name
    values: Mapping[str, Mapping[str, int]]               # side → metric → value
    #: metric → (discrepancy ids, a Vietnamese phrase of their kinds) explaining the difference.
    explanations: Mapping[str, tuple[tuple[str, ...], str]] = attrs.field(factory=dict)

    def value(self, side: str, metric: str) -> Decimal | None:
        figures = self.values[side]
        if metric in SHARES:
            part, whole = (sum(figures.get(m, 0) for m in ms) for ms in SHARES[metric])
            return None if not whole else Decimal(part) * 100 / Decimal(whole)
        return Decimal(figures[metric]) if metric in figures else None


def source_checks(stated: Sequence[Stated], reference: Reference) -> Iterator[Check]:
    """Each stated figure the store can produce, against both sources' figures."""
    for s in stated:
        values = {side: reference.value(side, s.metric) for side in ("left", "right")}
        if values["left"] is None and values["right"] is None:
            continue
        figure = s.figure
        decimals = figure.decimals if figure.is_percent else 0

        def matches(value: Decimal | None, figure: Figure = figure) -> bool:
            if value is None:
                return False
            if not figure.is_percent:
                return value == figure.value
            step = Decimal(10) ** -figure.decimals
            return abs(value - figure.value) <= step / 2 or figure.value <= value < figure.value + step

        suffix = "%" if figure.is_percent else ""
        shown = {side: "—" if v is None else vn(v, decimals) + suffix for side, v in values.items()}
        label = vi.METRIC_NAMES.get(s.metric, SHARE_NAMES.get(s.metric, s.metric))
        both = (f"{reference.names['left']} {shown['left']}, "
                f"{reference.names['right']} {shown['right']}")
        ids, why = reference.explanations.get(s.metric, ((), ""))
        because = f": {why}" if why and shown["left"] != shown["right"] else ""
        status = "ok" if matches(values["left"]) or matches(values["right"]) else "mismatch"
        message = (f"Báo cáo ghi {figure.text} ({label}); {both}{because}." if status == "ok" else
                   f"Báo cáo ghi {figure.text} ({label}) nhưng {both}{because}; cần sửa theo "
                   "số liệu của hệ thống.")
        yield Check("source", status, s.block.line_at(figure.start),
                    s.block.excerpt(figure.start, figure.end), figure.text, shown["left"],
                    (shown["left"], shown["right"]), message, s.metric,
                    ids if shown["left"] != shown["right"] else ())
