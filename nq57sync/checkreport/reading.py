"""Reading a draft report into numbered lines, and its figures into values.

A report arrives as .docx (paragraphs and table rows, as python-docx reads
them), .md, .txt, or .pdf with a text layer (pypdf: pure Python, no system
library, reads the text layer page by page). Scanned reports come through OCR
with broken diacritics: everything is matched on text *folded* to plain
letters (`hồ sơ`, `ho so`, `h6 so` → `ho so`), and numbers are read the
Vietnamese way (`.` groups thousands, `,` is the decimal mark) with the OCR
confusions tolerated where the unit makes them unambiguous.
"""

from __future__ import annotations

import re
import unicodedata
from decimal import Decimal
from pathlib import Path

import attrs

from nq57sync.errors import DataError
from nq57sync.text import printable

#: The largest report read (a 300-page report is ~1 MB of text).
MAX_BYTES = 50 * 1024 * 1024
SUFFIXES = (".docx", ".md", ".txt", ".pdf")


@attrs.frozen
class Document:
    """A report's text as numbered lines (1-based), and for a .docx each line's paragraph."""

    path: Path
    lines: tuple[str, ...]
    #: For a .docx: the index among `Document.paragraphs` of each line's paragraph (or -1
    #: for a table row), so an annotation finds the paragraph again.
    paragraph_of: tuple[int, ...] = ()


def read_document(path: Path) -> Document:
    """The report's lines; a file that cannot be read raises `DataError` naming it."""
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise DataError(f"Không đọc được tệp {path.name}: chỉ đọc báo cáo dạng "
                        f"{', '.join(SUFFIXES)}.")
    try:
        if path.stat().st_size > MAX_BYTES:
            raise DataError(f"Tệp {path.name} lớn hơn {MAX_BYTES // 2**20} MB; không đọc.")
        if suffix == ".docx":
            return _read_docx(path)
        if suffix == ".pdf":
            return _read_pdf(path)
        raw = path.read_bytes()
    except DataError:
        raise
    except Exception as exc:  # every reader's own errors: the file is not what it claims
        raise DataError(f"Không đọc được tệp {path.name}: tệp hỏng hoặc không đúng định dạng "
                        f"{suffix} ({type(exc).__name__}).") from None
    text = raw.decode("utf-8-sig", errors="replace")
    return Document(path, tuple(_clean(line) for line in text.splitlines()))


def _clean(line: str) -> str:
    return printable(line.replace("\t", " "))


def _read_docx(path: Path) -> Document:
    import docx

    document = docx.Document(str(path))
    lines: list[str] = []
    paragraph_of: list[int] = []
    for index, paragraph in enumerate(document.paragraphs):
        for line in (paragraph.text.split("\n") or [""]):
            lines.append(_clean(line))
            paragraph_of.append(index)
    for table in document.tables:
        for row in table.rows:
            cells = list(dict.fromkeys(cell.text.strip() for cell in row.cells))
            lines.append(_clean(" | ".join(cells)))
            paragraph_of.append(-1)
    return Document(path, tuple(lines), tuple(paragraph_of))


def _read_pdf(path: Path) -> Document:
    from pypdf import PdfReader

    lines: list[str] = []
    for page in PdfReader(str(path)).pages:
        lines.extend(_clean(line) for line in (page.extract_text() or "").splitlines())
    return Document(path, tuple(lines))


# -- folding -------------------------------------------------------------------

#: Digits OCR puts inside words: `h6 so`, `S6`, `tiép nhan`, `1ượt`.
_DIGIT_AS_LETTER = str.maketrans({"0": "o", "1": "l", "3": "e", "4": "a", "5": "s", "6": "o",
                                  "8": "b"})
_MIXED = re.compile(r"\b(?=[a-z0-9]*[a-z])(?=[a-z]*[0-9])[a-z0-9]+\b")


class _Folding(dict[int, str]):
    """A `str.translate` table filled on first sight of each character."""

    def __missing__(self, code: int) -> str:
        ch = chr(code)
        base = "d" if ch in "đĐ" else unicodedata.normalize("NFD", ch)[0]
        self[code] = out = base.lower() if base.isascii() else " "
        return out


_FOLDING = _Folding()


def fold(text: str) -> str:
    """Plain lower-case letters, the same length as `text` (so offsets carry over).

    Diacritics go, `đ` becomes `d`, other non-ASCII characters become spaces,
    and digits inside words become the letters OCR mistook them for.
    """
    folded = text.translate(_FOLDING)
    return _MIXED.sub(lambda m: m.group(0).translate(_DIGIT_AS_LETTER), folded)


# -- numbers -------------------------------------------------------------------

#: Units that count things: `2,318` (an OCR'd `2.318`) is then two thousand three hundred eighteen.
COUNT_UNITS = ("ho so", "thu tuc", "nhiem vu", "chi tieu", "doanh nghiep", "nguoi", "luot",
               "don vi", "dich vu", "co quan", "xa", "phuong", "ho", "tai khoan", "giay to",
               "ket qua", "van ban", "may", "diem", "truong", "he thong", "ung dung")
#: Units of amounts (decimals allowed).
AMOUNT_UNITS = ("ty dong", "trieu dong", "nghin ty dong", "nghin dong", "dong", "ha", "km",
                "gio", "ngay")
_UNITS = sorted(COUNT_UNITS + AMOUNT_UNITS, key=len, reverse=True)
_UNIT_RE = re.compile(r"\s*(" + "|".join(re.escape(u) for u in _UNITS) + r")\b")
#: A number not glued to a word, a date or a code; `nhiệm vụ/17 chỉ tiêu` reads the 17.
NUMBER = re.compile(r"(?:(?<![\w.,/-])|(?<=[^\W\d]/))(\d+(?:[.,]\d+)*)(?![\w/-]|[.,]\d)(\s?%)?")


@attrs.frozen
class Figure:
    """A number as the report states it, where, and what it counts."""

    value: Decimal
    decimals: int
    unit: str                 # a unit of COUNT_UNITS/AMOUNT_UNITS, "%" or ""
    start: int                # offsets in the block's text
    end: int                  # after the number (and its % sign)
    unit_end: int             # after the unit's words
    text: str                 # as written

    @property
    def is_percent(self) -> bool:
        return self.unit == "%"

    @property
    def tolerance(self) -> Decimal:
        """Half a unit of the last stated digit: what rounding may have taken away.

        Counts (dossiers, tasks) are exact: a whole number of them is not rounded.
        """
        if self.decimals == 0 and self.unit not in AMOUNT_UNITS:
            return Decimal(0)
        return Decimal(5) / (Decimal(10) ** (self.decimals + 1))


def read_number(text: str, unit: str) -> tuple[Decimal, int] | None:
    """`2.318` → 2318; `407,28` → 407.28 (2 decimals); `05` → 5; OCR's `2,318 hồ sơ` → 2318.

    None when the writing is ambiguous (e.g. `1.234,5.6`).
    """
    groups = re.split(r"[.,]", text)
    separators = re.findall(r"[.,]", text)
    if not separators:
        return Decimal(int(text)), 0
    counted = unit in COUNT_UNITS
    if len(separators) == 1:
        sep, tail = separators[0], groups[1]
        if len(tail) == 3 and (sep == "." or counted) and unit != "%":
            return Decimal(int(groups[0] + tail)), 0
        return Decimal(f"{groups[0]}.{tail}"), len(tail)
    head, last = separators[:-1], separators[-1]
    if len(set(head)) == 1 and all(len(g) == 3 for g in groups[1:-1]):
        if last == head[0] and len(groups[-1]) == 3:       # 1.234.567 (or OCR's 1,234,567)
            return Decimal(int("".join(groups))), 0
        if last != head[0]:                                  # 1.234,5
            return Decimal(f"{''.join(groups[:-1])}.{groups[-1]}"), len(groups[-1])
    return None


_NOT_A_QUANTITY = re.compile(
    r"(?:\b(?:so|nam|ngay|thang|quy|khoan|dieu|muc|phu luc|giai doan|nghi quyet|nghi dinh|"
    r"thong tu|quyet dinh|ke hoach|cong van|chi thi|ket luan|lan thu|tu|den|truoc|sau|"
    r"khoa|nhiem ky|tuan|version|phien ban)\s*$)")


def figures_in(text: str, folded: str) -> list[Figure]:
    """Every quantity in a block: dates, years, document numbers and headings left out."""
    out = []
    for m in NUMBER.finditer(text):
        digits, percent = m.group(1), m.group(2)
        before = folded[max(0, m.start() - 24):m.start()]
        if _NOT_A_QUANTITY.search(before) and not percent:
            continue
        heading = re.fullmatch(r"\s*[-+•*]?\s*", text[:m.start()])
        if heading and re.match(r"[.)]\s", text[m.end():m.end() + 2]):   # "1. " or "2) "
            continue
        if len(digits) == 4 and digits.startswith(("19", "20")) and not percent \
                and not _UNIT_RE.match(folded, m.end()):
            continue  # a year
        unit, unit_end = "", m.end()
        if percent:
            unit = "%"
        else:
            found = _UNIT_RE.match(folded, m.end())
            if found:
                unit, unit_end = found.group(1), found.end()
        read = read_number(digits, unit)
        if read is None:
            continue
        out.append(Figure(read[0], read[1], unit, m.start(), m.end(), unit_end,
                          m.group(0).strip()))
    return out


def vn(value: Decimal, decimals: int = 0) -> str:
    """A value as Vietnamese write it: 2.318; 407,28."""
    from nq57sync import vi

    return vi.number(float(value), decimals)
