"""Check a draft report before it is signed: its own arithmetic, and its figures against the store.

`check(document, reference)` runs every check on a read document:
`checks` (sums, shares, fractions and statuses), `against` (repeats, and
each figure the store can produce against both sources). The CLI command
`check-report`, `Workspace.check_report` and the dashboard's upload page all
call it. Output formats: `ReportCheck.as_json`, `render_markdown`, and the
Word copy with a comment on every mismatching figure (`annotate`).
"""

from __future__ import annotations

import re
from pathlib import Path

import attrs

from nq57sync import vi
from nq57sync.checkreport.against import (
    Reference,
    repeat_checks,
    source_checks,
    stated_metrics,
)
from nq57sync.checkreport.checks import (
    Check,
    blocks,
    share_checks,
    status_checks,
    sum_checks,
)
from nq57sync.checkreport.reading import Document, fold, read_document
from nq57sync.errors import PeriodError, UsageError
from nq57sync.period import Period

__all__ = ["Check", "Document", "Reference", "ReportCheck", "annotate", "check",
           "period_in_text", "read_document", "render_markdown"]

#: The order findings are read in: what is wrong first.
SEVERITY = {"mismatch": 0, "unclear": 1, "ok": 2}


@attrs.frozen
class ReportCheck:
    """Every check of one report."""

    path: Path
    period: Period | None
    period_reason: str
    checks: tuple[Check, ...]
    #: The text as read, one entry per line (`Check.line` indexes it from 1).
    lines: tuple[str, ...] = attrs.field(default=(), eq=False, repr=False)

    def count(self, status: str) -> int:
        return sum(1 for c in self.checks if c.status == status)

    def by_severity(self) -> list[Check]:
        """Mismatches first, then what is unclear, then what agrees; each in line order."""
        return sorted(self.checks, key=lambda c: (SEVERITY[c.status], c.line))

    def worst_by_line(self) -> dict[int, str]:
        """Each line that has a check, with its worst finding's status."""
        out: dict[int, str] = {}
        for c in sorted(self.checks, key=lambda c: -SEVERITY[c.status]):
            out[c.line] = c.status
        return out

    def period_vi(self, how_to_give: str) -> str:
        """Which period the figures were compared for, and from where; or how to give one."""
        if self.period is None:
            return f"Không rõ kỳ của báo cáo: chưa đối chiếu với hệ thống ({how_to_give})."
        return f"{self.period.describe_vi()} ({self.period_reason})."

    def summary_vi(self) -> str:
        return (f"Đã kiểm tra {vi.number(len(self.checks))} số liệu: "
                f"{vi.number(self.count('mismatch'))} sai, {vi.number(self.count('unclear'))} "
                "chưa rõ.")

    def as_json(self) -> dict[str, object]:
        return {"file": str(self.path),
                "period": ({**self.period.as_json(), "label": self.period.label, "from":
                            self.period_reason} if self.period else None),
                "checks": [c.as_json() for c in self.checks],
                "summary": {"checked": len(self.checks), "mismatches": self.count("mismatch"),
                            "unclear": self.count("unclear")}}


def check(document: Document, reference: Reference | None = None, *,
          period: Period | None = None, period_reason: str = "") -> ReportCheck:
    """Every check of the document, in the order of its lines."""
    all_blocks = blocks(document.lines)
    stated = stated_metrics(all_blocks)
    sums = list(sum_checks(all_blocks))
    found = [*sums, *share_checks(all_blocks, sums), *status_checks(all_blocks),
             *repeat_checks(stated)]
    if reference is not None:
        found += source_checks(stated, reference)
    unique = {(c.kind, c.line, c.stated, c.terms): c for c in found}
    ordered = sorted(unique.values(), key=lambda c: (c.line, c.kind))
    return ReportCheck(document.path, period, period_reason, tuple(ordered), tuple(document.lines))


_ROMAN = {"i": 1, "ii": 2, "iii": 3, "iv": 4}
_RANGE = re.compile(r"tu ngay\s*(\d{1,2})/(\d{1,2})/(\d{4})\s*(?:den|-|–)\s*(?:ngay\s*)?"
                    r"(\d{1,2})/(\d{1,2})/(\d{4})")
_QUARTER = re.compile(r"\bquy\s*(iv|iii|ii|i|[1-4])\b\s*(?:/|nam)?\s*(\d{4})")
_MONTH = re.compile(r"\bthang\s*(\d{1,2})\s*(?:/|nam)\s*(\d{4})")
_YEAR = re.compile(r"\bnam\s*(\d{4})\b")


def period_in_text(lines: tuple[str, ...] | list[str]) -> tuple[Period | None, str]:
    """The period a report is about, from its heading lines: a date range, a quarter, a month,
    a year (in that order of precision); with the words it was read from."""
    text = " ".join(lines[:40])
    head = fold(text)
    for pattern, make in (
            (_RANGE, lambda m: f"{m[3]}-{int(m[2]):02d}-{int(m[1]):02d}.."
                               f"{m[6]}-{int(m[5]):02d}-{int(m[4]):02d}"),
            (_QUARTER, lambda m: f"{m[2]}-Q{_ROMAN.get(m[1], m[1])}"),
            (_MONTH, lambda m: f"{m[2]}-{int(m[1]):02d}"),
            (_YEAR, lambda m: m[1])):
        m = pattern.search(head)
        if m:
            try:
                # `fold` keeps offsets: the reason quotes the report's own words.
                return Period.parse(make(m)), f"đọc từ báo cáo: “{text[m.start():m.end()]}”"
            except PeriodError:
                continue
    return None, ""


def render_markdown(result: ReportCheck) -> str:
    """The findings as a Markdown table, mismatches first (for a ticket or an e-mail)."""
    from nq57sync.reports.writers import _md as md_cell  # the reports' own cell escaping

    lines = [f"# Kiểm tra báo cáo {md_cell(result.path.name)}", ""]
    lines += [md_cell(result.period_vi("dùng --period")), ""]
    lines += [result.summary_vi(), "", "| " + " | ".join(vi.REPORT_CHECK_COLUMNS) + " |",
              "|---:|---|---|---:|---:|---|"]
    for c in result.by_severity():
        lines.append(f"| {c.line} | {vi.REPORT_CHECK_KINDS[c.kind]} | {vi.REPORT_CHECK_STATUSES[c.status]} | "
                     f"{md_cell(c.stated)} | {md_cell(c.computed)} | {md_cell(c.message)} |")
    return "\n".join(lines) + "\n"


def annotate(result: ReportCheck, document: Document, output: Path) -> Path:
    """A copy of the .docx with a Word comment on every mismatching figure."""
    import docx

    from nq57sync.files import atomic_path

    if document.path.suffix.lower() != ".docx":
        raise UsageError("Chỉ chú thích được báo cáo dạng .docx (--annotate).")
    doc = docx.Document(str(document.path))
    paragraphs = doc.paragraphs
    for c in result.checks:
        if c.status != "mismatch" or c.line > len(document.paragraph_of):
            continue
        index = document.paragraph_of[c.line - 1]
        if index < 0:
            continue
        paragraph = paragraphs[index]
        runs = [r for r in paragraph.runs if c.stated in r.text] or list(paragraph.runs)
        if runs:
            doc.add_comment(runs, text=c.message, author="nq57sync", initials="NQ")
    with atomic_path(output) as temporary:
        doc.save(str(temporary))
    return output
