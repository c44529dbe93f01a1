"""The checks a draft report's own figures must pass: sums, shares, fractions, repeats.

The text is cut into blocks (a paragraph, a bullet, a table row: wrapped lines
joined), each block's figures read (`reading.figures_in`), and each sentence
shape looked for on the folded text. A figure the checker cannot pin down
gives `unclear`, never `mismatch`: a false alarm on a correct report costs
the tool its users.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterator, Sequence
from decimal import Decimal

import attrs

from nq57sync.checkreport.reading import Figure, figures_in, fold, vn

STATUSES = ("ok", "mismatch", "unclear")


@attrs.frozen
class Check:
    """One check of a report: consistent (`ok`), wrong (`mismatch`) or not pinned (`unclear`)."""

    kind: str                        # sum, share, fraction, status, repeat, source
    status: str
    line: int                        # 1-based, in the text read
    excerpt: str
    stated: str                      # the figure as the report writes it
    computed: str                    # what it should be ("" when unclear)
    terms: tuple[str, ...]           # the parts summed, or the two sides of a share
    message: str                     # one Vietnamese sentence
    #: What the figure is, when the checker knows (a metric of the standard form).
    metric: str = ""
    explained_by: tuple[str, ...] = ()

    def as_json(self) -> dict[str, object]:
        out: dict[str, object] = {
            "kind": self.kind, "status": self.status, "line": self.line, "excerpt": self.excerpt,
            "stated": self.stated, "computed": self.computed, "terms": list(self.terms),
            "message": self.message}
        if self.metric:
            out["metric"] = self.metric
        if self.explained_by:
            out["explained_by"] = list(self.explained_by)
        return out


@attrs.frozen
class Block:
    """Wrapped lines joined into one paragraph, bullet or table row."""

    text: str
    folded: str
    first_line: int                  # 1-based
    starts: tuple[int, ...]          # offset in `text` where each following line starts
    figures: tuple[Figure, ...]      # every quantity in it, read once (`figures_in`)

    def line_at(self, offset: int) -> int:
        return self.first_line + bisect.bisect_right(self.starts, offset) - 1

    @property
    def bullet(self) -> str:
        m = _BULLET_MARK.match(self.text)
        return m.group(1) if m else ""

    def excerpt(self, start: int, end: int, width: int = 90) -> str:
        left = max(0, start - width // 2)
        right = min(len(self.text), max(end, left + width))
        return ("…" if left else "") + self.text[left:right].strip() + (
            "…" if right < len(self.text) else "")


#: A bullet's mark; OCR may leave a stray mark beside it (`-' Quá hạn`).
_BULLET_MARK = re.compile(r"\s*([-+•*–])[^\w\s]?\s")
_BULLET = re.compile(r"\s*(?:[-+•*–][^\w\s]?\s|[a-zđ]\)\s|\d+[.)]\s|[IVX]+\.\s)")


def blocks(lines: Sequence[str]) -> list[Block]:
    """Paragraphs from lines: a block ends at a sentence's end, a bullet, a heading or a table row.

    Extracted PDF text and typed reports wrap long sentences over several lines
    (blank lines between them are layout, not paragraphs).
    """
    out: list[Block] = []
    text, starts, first = "", [], 0

    def close() -> None:
        nonlocal text, starts
        if text.strip():
            folded = fold(text)
            out.append(Block(text, folded, first, tuple(starts), tuple(figures_in(text, folded))))
        text, starts = "", []

    for number, raw in enumerate(lines, 1):
        line = raw.rstrip()
        if not line.strip():
            continue
        if text and (_BULLET.match(line) or " | " in line or (text.rstrip().endswith(
                (".", ":", ";", "!", "?")) and not text.rstrip().endswith(("gồm:", "đó:")))):
            close()
        if " | " in line:
            first, starts, text = number, [0], line
            close()
            continue
        if not text:
            first = number
            starts = [0]
        else:
            text += " "
            starts.append(len(text))
        text += line.strip()
    close()
    return out


# -- sums -----------------------------------------------------------------------

_MARKER = re.compile(r"\s*[,;(:]?\s*(\(?\s*(?:trong do|bao gom|gom|cu the))\s*[:,]?\s*")
#: Words whose parts together make up the whole (the parts partition the total).
_PARTITIONS = (("truc tuyen", "truc tiep", "buu chinh"), ("truoc han", "dung han", "qua han"),
               ("da giai quyet", "dang giai quyet", "rut", "tra lai", "tu choi"),
               ("hoan thanh", "dang thuc hien", "trong han", "qua han", "chua trien khai"))


def _close_paren(text: str, start: int) -> int:
    """The offset of the `)` closing the parenthesis open at `start`, or the text's end."""
    depth = 0
    for i in range(start, len(text)):
        if text[i] == "(":
            depth += 1
        elif text[i] == ")":
            depth -= 1
            if depth <= 0:
                return i
    return len(text)


def _region_end(block: Block, start: int, in_paren: bool) -> int:
    """Where a list of parts ends: its parenthesis' close, else the sentence's end."""
    if in_paren:
        return _close_paren(block.text, start)
    m = re.compile(r"\.(?:\s|$)|\)").search(block.text, start)
    return m.start() if m else len(block.text)


def _top_level(block: Block, figures: Sequence[Figure], start: int, end: int) -> list[Figure]:
    """The figures in [start, end) outside nested parentheses and nested breakdowns."""
    depth, nested, out = 0, False, []
    folded = block.folded
    i = start
    positions = {f.start: f for f in figures if start <= f.start < end}
    while i < end:
        ch = block.text[i]
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == ";" and depth == 0:
            nested = False
        elif depth == 0 and folded.startswith(("trong do", "gom"), i) and out:
            nested = True
        elif i in positions and depth == 0 and not nested:
            figure = positions[i]
            if not block.text[max(0, i - 2):i].strip().endswith("/"):
                out.append(figure)
        i += 1
    return out


def _partitioned(block: Block, parts: Sequence[Figure], end: int) -> bool:
    """True when the parts' own words say they make up the whole (channels, timeliness …)."""
    labels = []
    previous = max(0, parts[0].start - 30)
    for a, b in zip(parts, [*parts[1:], None], strict=True):
        stop = b.start if b is not None else end
        # The part's own words: after it up to a boundary (`1.500 hồ sơ trực tuyến`), else
        # before it since the previous part (`trực tuyến: 1.500`).
        after = re.split(r"[,;:()]| va ", block.folded[a.unit_end:stop])[0]
        labels.append((after, block.folded[previous:a.start]))
        previous = a.unit_end + len(after)
    for words in _PARTITIONS:
        named = [next((w for w in words if w in after), None)
                 or next((w for w in words if w in before), None) for after, before in labels]
        if all(named) and len(set(named)) == len(named):
            return True
    return False


def _sum_check(block: Block, total: Figure, parts: Sequence[Figure], asserted: bool,
               end: int) -> Check:
    decimals = max([total.decimals, *(p.decimals for p in parts)])
    added = sum((p.value for p in parts), Decimal(0))
    slack = total.tolerance + sum((p.tolerance for p in parts), Decimal(0))
    terms = tuple(p.text for p in parts)
    unit = f" {_unit_vi(total)}" if total.unit else ""
    excerpt = block.excerpt(total.start, end)
    line = block.line_at(total.start)
    if abs(added - total.value) <= slack:
        return Check("sum", "ok", line, excerpt, total.text, vn(added, decimals), terms,
                     f"Tổng {total.text}{unit} bằng tổng các phần ({' + '.join(terms)}).")
    partition = asserted or _partitioned(block, parts, end)
    if not partition:
        return Check("sum", "unclear", line, excerpt, total.text, "", terms,
                     f"Các phần ({' + '.join(terms)} = {vn(added, decimals)}) không bằng tổng "
                     f"{total.text}{unit}, nhưng có thể chỉ là một số phần của tổng; cần xem lại.")
    return Check("sum", "mismatch", line, excerpt, total.text, vn(added, decimals), terms,
                 f"Tổng ghi {total.text}{unit} nhưng các phần cộng lại là {vn(added, decimals)}"
                 f"{unit} ({' + '.join(terms)}); cần sửa tổng hoặc một phần.")


_UNITS_VI = {"ho so": "hồ sơ", "thu tuc": "thủ tục", "nhiem vu": "nhiệm vụ", "chi tieu": "chỉ tiêu",
             "ty dong": "tỷ đồng", "trieu dong": "triệu đồng", "doanh nghiep": "doanh nghiệp",
             "nguoi": "người", "luot": "lượt", "don vi": "đơn vị", "dich vu": "dịch vụ"}


def _unit_vi(figure: Figure) -> str:
    return _UNITS_VI.get(figure.unit, figure.unit)


def sum_checks(all_blocks: Sequence[Block]) -> Iterator[Check]:
    """A total followed by its parts: `X, trong đó A; B`, `X (gồm: A, B)`, `X (A … và B …)`,
    and a total whose sentence ends `Cụ thể:` or `gồm:` with bulleted parts under it."""
    for index, block in enumerate(all_blocks):
        figures = [f for f in block.figures if not f.is_percent]
        for total in figures:
            m = _MARKER.match(block.folded, total.unit_end)
            paren = block.text[total.unit_end:total.unit_end + 3].lstrip().startswith("(")
            if m is not None:
                marker = m.group(1).lstrip("( ")
                in_paren = "(" in block.text[total.unit_end:m.end()]
                start = m.end()
            elif paren:
                marker, in_paren = "", True
                start = block.text.index("(", total.unit_end)
            else:
                continue
            end = _region_end(block, start, in_paren)
            if "/" in block.text[start:end] and marker == "":
                continue  # `(A/B)`: the two sides of a share, not parts
            parts = [p for p in _top_level(block, figures, start + (0 if marker else 1), end)
                     if p.unit == total.unit and p is not total]
            if marker == "cu the" or (not parts and block.text[start:].strip() == ""):
                parts = _bullet_parts(all_blocks, index, total.unit)
                end = len(block.text)
                if len(parts) >= 2:
                    yield _sum_check(block, total, [p for _, p in parts], True, end)
                continue
            if len(parts) >= 2:
                asserted = marker in ("gom", "bao gom") or (marker == "" and in_paren)
                yield _sum_check(block, total, parts, asserted and marker != "", end)
        yield from _lead_in_sums(all_blocks, index, figures)


def _lead_in_sums(all_blocks: Sequence[Block], index: int, figures: Sequence[Figure]
                  ) -> Iterator[Check]:
    """`… là 407,28 tỷ đồng (…). Cụ thể:` — the sentence's last top-level total, bullets below."""
    block = all_blocks[index]
    m = re.search(r"(cu the|nhu sau|gom)\s*:\s*$", block.folded)
    if not m or (m.group(1) == "gom" and _MARKER.match(block.folded, 0)):
        return
    top = [f for f in _top_level(block, figures, 0, m.start()) if f.unit]
    if not top or (m.group(1) == "gom" and top[-1].unit_end < m.start() - 12):
        return
    total = top[-1]
    parts = _bullet_parts(all_blocks, index, total.unit)
    if len(parts) >= 2:
        yield _sum_check(block, total, [p for _, p in parts], True, len(block.text))


def _bullet_parts(all_blocks: Sequence[Block], index: int, unit: str
                  ) -> list[tuple[Block, Figure]]:
    """The first top-level figure of `unit` in each bullet right under block `index`."""
    parts: list[tuple[Block, Figure]] = []
    marker = ""
    for block in all_blocks[index + 1:]:
        if not block.bullet or (marker and block.bullet != marker):
            break
        marker = block.bullet
        figures = [f for f in block.figures if f.unit == unit]
        top = _top_level(block, figures, 0, len(block.text))
        if not top:
            return []  # a bullet without the unit: the list is not a breakdown
        parts.append((block, top[0]))
    return parts


# -- shares ---------------------------------------------------------------------

_FRACTION = re.compile(r"(?<![\w.,/])(\d+(?:[.,]\d+)*)\s*(?:[a-z ]{0,20}?)\s*/\s*(\d+(?:[.,]\d+)*)"
                       r"(?![\w/]|[.,]\d)")


def _share_status(stated: Figure, part: Decimal, whole: Decimal, slack: Decimal
                  ) -> tuple[str, Decimal]:
    """ok when the stated share is the computed one rounded or truncated at its precision."""
    computed = part / whole * 100
    step = Decimal(10) ** -stated.decimals
    error = (abs(part) * slack + abs(whole) * slack) / (whole * whole) * 100  # the terms' rounding
    rounded_ok = abs(computed - stated.value) <= step / 2 + error
    truncated_ok = stated.value - error <= computed < stated.value + step + error
    return ("ok" if rounded_ok or truncated_ok else "mismatch"), computed


def share_checks(all_blocks: Sequence[Block], sums: Sequence[Check]) -> Iterator[Check]:
    """A percentage beside its two figures: `s% (A/B)`, `A/B = s%`, a part `(tỷ lệ s%)` of a
    total (one of `sums`, the report's sum checks, stated in the same block)."""
    by_line: dict[int, list[Check]] = {}
    for c in sums:
        by_line.setdefault(c.line, []).append(c)
    for block in all_blocks:
        figures = block.figures
        percents = [f for f in figures if f.is_percent]
        if not percents:
            continue
        written = {f.text for f in figures}
        last_line = block.line_at(len(block.text))
        here = {c.stated: c for line in range(block.first_line, last_line + 1)
                for c in by_line.get(line, ()) if c.stated in written}
        for stated in percents:
            yield from _one_share(block, figures, stated, here)


def _one_share(block: Block, figures: Sequence[Figure], stated: Figure,
               sums: dict[str, Check]) -> Iterator[Check]:
    after = block.text[stated.end:stated.end + 60]
    before = block.text[max(0, stated.start - 60):stated.start]
    pair = None
    m = re.match(r"\s*\(([^()]*)\)", after)
    if m and "/" in m.group(1):
        pair = _fraction_terms(m.group(1), block)
    if pair is None:
        m2 = re.search(r"(\d[\d.,]*[^()/=]{0,20}/\s*\d[\d.,]*[^()=]{0,20})(?:=|\(|:)\s*$", before)
        if m2:
            pair = _fraction_terms(m2.group(1), block)
    line = block.line_at(stated.start)
    excerpt = block.excerpt(stated.start - 40, stated.end + 20)
    if pair is not None:
        (a, a_text, a_dec), (b, b_text, b_dec) = pair
        if b == 0:
            return
        slack = Decimal(5) / Decimal(10) ** (max(a_dec, b_dec) + 1)
        status, computed = _share_status(stated, a, b, slack if (a_dec or b_dec) else Decimal(0))
        yield Check("share", status, line, excerpt, stated.text,
                    f"{vn(computed, stated.decimals)}%", (a_text, b_text),
                    f"Tỷ lệ {stated.text} khớp với {a_text}/{b_text}." if status == "ok" else
                    f"Tỷ lệ ghi {stated.text} nhưng {a_text}/{b_text} = "
                    f"{vn(computed, stated.decimals)}%; cần sửa tỷ lệ hoặc số liệu.")
        return
    # `…, trong đó A hồ sơ trực tuyến (tỷ lệ s%)`: a part of a stated total.
    lead = re.search(r"(ty le|chiem|dat)([a-z ]{0,30})$", fold(before))
    if not lead:
        return
    preceding = [f for f in figures if f.end <= stated.start and not f.is_percent and f.unit]
    if not preceding or stated.start - preceding[-1].end > 80:
        return
    part = preceding[-1]
    total_check = next((c for c in sums.values() if part.text in c.terms), None)
    qualifier = _letters(lead.group(2))
    named = None
    if total_check is not None and qualifier:
        # `(tỷ lệ trực tuyến 64,7%)` after `A … trực tuyến và B … trực tiếp`: the part so named
        # (letters only: OCR leaves stray marks inside words, `trực' tuyến`).
        named = [f for f in preceding if f.text in total_check.terms
                 and qualifier in _letters(re.split(r"[,;:()]| va ", block.folded[f.unit_end:])[0])]
        part = named[-1] if named else part
    if total_check is None or total_check.status == "unclear" or named == []:
        yield Check("share", "unclear", line, excerpt, stated.text, "", (part.text,),
                    f"Không xác định được tỷ lệ {stated.text} tính trên tổng nào; cần xem lại.")
        return
    whole_figure = next(f for f in figures if f.text == total_check.stated)
    status, computed = _share_status(stated, part.value, whole_figure.value,
                                     max(part.tolerance, whole_figure.tolerance)
                                     if part.decimals or whole_figure.decimals else Decimal(0))
    yield Check("share", status, line, excerpt, stated.text, f"{vn(computed, stated.decimals)}%",
                (part.text, whole_figure.text),
                f"Tỷ lệ {stated.text} khớp với {part.text}/{whole_figure.text}." if status == "ok"
                else f"Tỷ lệ ghi {stated.text} nhưng {part.text}/{whole_figure.text} = "
                     f"{vn(computed, stated.decimals)}%; cần sửa tỷ lệ hoặc số liệu.")


def _letters(folded: str) -> str:
    """Folded text with only its letters and single spaces (what OCR cannot spoil)."""
    return " ".join(re.sub(r"[^a-z ]+", "", folded).split())


def _fraction_terms(text: str, block: Block
                    ) -> tuple[tuple[Decimal, str, int], tuple[Decimal, str, int]] | None:
    from nq57sync.checkreport.reading import read_number

    m = re.search(r"(\d[\d.,]*)\s*([^\d/]{0,20})/\s*(\d[\d.,]*)\s*([^\d/]{0,20})", text)
    if not m:
        return None
    unit = fold(m.group(2) or m.group(4)).strip()
    unit = "ho so" if "ho so" in unit else unit
    a, b = read_number(m.group(1), unit), read_number(m.group(3), unit)
    if a is None or b is None:
        return None
    return ((a[0], m.group(1) + (" " + m.group(2).strip() if m.group(2).strip() else ""), a[1]),
            (b[0], m.group(3) + (" " + m.group(4).strip() if m.group(4).strip() else ""), b[1]))


# -- fractions and statuses ------------------------------------------------------

#: Status words of tasks and dossiers, folded; the first that matches before a figure names it.
_STATUS_WORDS = (
    ("done_or_doing", r"da va dang (?:thuc hien|trien khai)"),
    ("assigned", r"(?:duoc giao|giao)"),
    ("done", r"(?:da )?hoan thanh"),
    ("doing", r"(?:dang thuc hien|dang trien khai|trong han)"),
    ("overdue", r"qua han"),
    ("not_started", r"chua (?:trien khai|thuc hien)"),
)
_TASK_UNITS = ("nhiem vu", "chi tieu")
_DOSSIER_STATUS = (("received", r"tiep nhan"), ("resolved", r"da giai quyet"),
                   ("pending", r"dang (?:giai quyet|xu ly)"), ("withdrawn", r"rut"),
                   ("returned", r"tra lai|tu choi"))


def _labelled(block: Block, words: Sequence[tuple[str, str]], units: Sequence[str]
              ) -> list[tuple[str, Figure]]:
    """Figures of `units` named by the status word right before them (within the clause)."""
    out = []
    figures = [f for f in block.figures if f.unit in units]
    # `06 nhiệm vụ/17 chỉ tiêu` and `0 nhiệm vụ/chỉ tiêu`: one status, two units.
    for f in figures:
        clause_start = max(block.folded.rfind(c, 0, f.start) for c in ",;:(")
        clause = block.folded[clause_start + 1:f.start]
        if block.text[max(0, f.start - 1):f.start] == "/":
            clause = block.folded[max(0, block.folded.rfind(",", 0, f.start)):f.start]
        found = next((name for name, pattern in words if re.search(pattern, clause)), None)
        if found:
            out.append((found, f))
    for m in re.finditer(r"(\d+)\s+nhiem vu\s*/\s*chi tieu", block.folded):
        for f in figures:
            if f.start == m.start(1):
                named = next((n for n, f2 in out if f2 is f), None)
                if named:
                    out.append((named, attrs.evolve(f, unit="chi tieu")))
    return out


def status_checks(all_blocks: Sequence[Block]) -> Iterator[Check]:
    """Tasks: done + in progress + overdue + not started against assigned; `12/12` done beside
    `12` still in progress. Dossiers: resolved + pending (+ withdrawn, returned) = received."""
    for block in all_blocks:
        named = _labelled(block, _STATUS_WORDS, _TASK_UNITS)
        for unit in _TASK_UNITS:
            values = {}
            for name, f in named:
                if f.unit == unit:
                    values.setdefault(name, f)
            yield from _task_balance(block, unit, values)
        yield from _fraction_contradictions(block)
        dossiers = {}
        for name, f in _labelled(block, _DOSSIER_STATUS, ("ho so",)):
            dossiers.setdefault(name, f)
        if {"received", "resolved", "pending"} <= set(dossiers):
            parts = [dossiers[k] for k in ("resolved", "pending", "withdrawn", "returned")
                     if k in dossiers]
            total = dossiers["received"]
            added = sum((p.value for p in parts), Decimal(0))
            status = "ok" if added == total.value else "mismatch"
            terms = tuple(p.text for p in parts)
            yield Check("status", status, block.line_at(total.start),
                        block.excerpt(total.start, parts[-1].end), total.text, vn(added), terms,
                        f"Tiếp nhận {total.text} hồ sơ bằng đã giải quyết và đang giải quyết "
                        f"({' + '.join(terms)})." if status == "ok" else
                        f"Tiếp nhận {total.text} hồ sơ nhưng đã giải quyết và đang giải quyết "
                        f"cộng lại là {vn(added)} ({' + '.join(terms)}); cần sửa cho khớp.")


def _task_balance(block: Block, unit: str, values: dict[str, Figure]) -> Iterator[Check]:
    assigned = values.get("assigned") or values.get("done_or_doing")
    states = [values[k] for k in ("done", "doing", "overdue", "not_started") if k in values]
    if assigned is None or len(states) < 2:
        return
    added = sum((s.value for s in states), Decimal(0))
    terms = tuple(s.text for s in states)
    line, excerpt = block.line_at(assigned.start), block.excerpt(assigned.start, states[-1].end)
    name = _UNITS_VI[unit]
    if added == assigned.value:
        yield Check("status", "ok", line, excerpt, assigned.text, vn(added), terms,
                    f"{assigned.text} {name} bằng tổng các tình trạng ({' + '.join(terms)}).")
    elif added > assigned.value or {"done", "doing", "overdue"} <= set(values):
        yield Check("status", "mismatch", line, excerpt, assigned.text, vn(added), terms,
                    f"Được giao {assigned.text} {name} nhưng hoàn thành, đang thực hiện, quá hạn "
                    f"và chưa triển khai cộng lại là {vn(added)} ({' + '.join(terms)}).")
    else:
        yield Check("status", "unclear", line, excerpt, assigned.text, "", terms,
                    f"Các tình trạng ({' + '.join(terms)}) chưa đủ để đối chiếu với "
                    f"{assigned.text} {name}; cần xem lại.")


_DONE_FRACTION = re.compile(r"(?:da )?hoan thanh\s*(\d+)\s*/\s*(\d+)\s*(nhiem vu|chi tieu)?")


def _fraction_contradictions(block: Block) -> Iterator[Check]:
    """`đã hoàn thành 12/12` beside `đang thực hiện 12` for the same group."""
    for m in _DONE_FRACTION.finditer(block.folded):
        done, of = int(m.group(1)), int(m.group(2))
        unit = m.group(3) or "nhiem vu"
        line, excerpt = block.line_at(m.start()), block.excerpt(m.start(), m.end() + 40)
        stated = block.text[m.start(1):m.end(2)]
        if done > of:
            yield Check("fraction", "mismatch", line, excerpt, stated, f"≤ {of}", (m.group(1),
                        m.group(2)), f"Số hoàn thành {done} lớn hơn tổng số {of}.")
            continue
        doing = re.search(r"(?:dang thuc hien|dang trien khai)\s*(\d+)", block.folded[m.end():])
        if doing is None:
            continue
        still = int(doing.group(1))
        if done == of and still > 0:
            yield Check("fraction", "mismatch", line, excerpt, stated, f"{done}/{of}",
                        (m.group(1), m.group(2), doing.group(1)),
                        f"Ghi đã hoàn thành {done}/{of} {_UNITS_VI.get(unit, unit)} nhưng còn "
                        f"{still} đang thực hiện; hai số không thể cùng đúng.")
        elif done + still <= of:
            yield Check("fraction", "ok", line, excerpt, stated, f"{done}/{of}",
                        (m.group(1), m.group(2), doing.group(1)),
                        f"Hoàn thành {done} và đang thực hiện {still} không vượt {of}.")
        else:
            yield Check("fraction", "mismatch", line, excerpt, stated, f"{done}/{of}",
                        (m.group(1), m.group(2), doing.group(1)),
                        f"Hoàn thành {done} và đang thực hiện {still} vượt tổng số {of}.")
