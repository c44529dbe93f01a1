"""Self-check of the corpus truth files (independent of nq57sync's checker).

Run: ``.venv/bin/python tests/corpus/check_truth.py``

For every ``*.truth.json`` beside this file it verifies that

* the document exists and the JSON has the documented shape;
* every ``text`` excerpt is found where ``where`` says (the 1-based line of a
  .txt, the printed line of a PDF page, the paragraph or the table row of a .docx);
* the ``consistent`` verdict of every claim agrees with the arithmetic redone
  here from the figures as printed (``unclear`` claims are skipped);
* for table claims, the printed cell at (row, column) holds the claim's key figure.

It prints one line per document and exits non-zero on the first disagreement list.
"""

from __future__ import annotations

import json
import re
import sys
from decimal import Decimal
from pathlib import Path

HERE = Path(__file__).resolve().parent
KINDS = ("sum", "share", "fraction", "status", "repeat")


def number(text: str) -> Decimal:
    """A figure as printed: '2.540.000.000', '407,28', '97,6%', '2410', 'Khong' (zero)."""
    t = text.strip().rstrip("%").strip()
    if t.lower() in {"không", "khong", "0"}:
        return Decimal(0)
    if re.fullmatch(r"\d{1,3}(\.\d{3})+(,\d+)?", t) or re.fullmatch(r"\d+(,\d+)?", t):
        return Decimal(t.replace(".", "").replace(",", "."))
    raise ValueError(f"not a figure: {text!r}")


def decimals(text: str) -> int:
    t = text.strip().rstrip("%").strip()
    return len(t.split(",")[1]) if "," in t else 0


def verdict(claim: dict) -> bool:
    f = claim["figures"]
    kind = claim["kind"]
    if kind == "sum":
        return number(f["total"]) == sum((number(p) for p in f["parts"]), Decimal(0))
    if kind == "share":
        parts = f["part"] if isinstance(f["part"], list) else [f["part"]]
        computed = sum((number(p) for p in parts), Decimal(0)) / number(f["whole"]) * 100
        half = Decimal(5) / Decimal(10) ** (decimals(f["stated"]) + 1)
        return abs(computed - number(f["stated"])) <= half
    if kind == "fraction":
        return number(f["done"]) <= number(f["of"])
    if kind == "status":
        used = number(f["done"]) + number(f["in_progress"])
        used += sum((number(p) for p in f.get("other", [])), Decimal(0))
        return used <= number(f["assigned"])
    if kind == "repeat":
        return len({number(v) for v in f["values"]}) == 1
    raise ValueError(kind)


def squash(s: str) -> str:
    return " ".join(s.split())


class Doc:
    """Lines of a .txt / PDF page, paragraphs and tables of a .docx."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lines: list[str] = []
        self.pages: list[list[str]] = []
        self.paragraphs: list[str] = []
        self.tables: list[list[list[str]]] = []
        suffix = path.suffix.lower()
        if suffix == ".txt":
            self.lines = path.read_text(encoding="utf-8").split("\n")
        elif suffix == ".pdf":
            from pypdf import PdfReader

            for page in PdfReader(str(path)).pages:
                self.pages.append(page.extract_text().split("\n"))
        elif suffix == ".docx":
            self._read_docx()

    def _read_docx(self) -> None:
        import docx
        from docx.table import Table
        from docx.text.paragraph import Paragraph

        def walk_table(table: Table) -> None:
            grid = []
            nested = []
            for row in table.rows:
                grid.append([cell.text for cell in row.cells])
                for cell in row.cells:
                    nested.extend(cell.tables)
            self.tables.append(grid)
            seen = set()
            for t in nested:
                if id(t._tbl) not in seen:
                    seen.add(id(t._tbl))
                    walk_table(t)

        d = docx.Document(str(self.path))
        for item in d.iter_inner_content():
            if isinstance(item, Paragraph):
                self.paragraphs.append(item.text)
            else:
                walk_table(item)

    def find(self, where: dict, text: str) -> str | None:
        """None when the excerpt is where it is said to be, else a message."""
        if "table" in where:
            n = where["table"]
            if not 1 <= n <= len(self.tables):
                return f"no table {n}"
            grid = self.tables[n - 1]
            labels = [squash(c) for row in grid for c in row[:3]]
            if squash(where["row"]) not in labels:
                return f"table {n}: no row {where['row']!r}"
            if squash(text) != squash(where["row"]):
                return f"table {n}: text should be the row label {where['row']!r}"
            return None
        if "paragraph" in where:
            n = where["paragraph"]
            if not 1 <= n <= len(self.paragraphs):
                return f"no paragraph {n}"
            return None if squash(text) in squash(self.paragraphs[n - 1]) else f"paragraph {n}: {text!r}"
        if "page" in where:
            page = self.pages[where["page"] - 1]
            line = page[where["line"] - 1] if 1 <= where["line"] <= len(page) else ""
            if squash(text) in squash(line):
                return None
            return f"page {where['page']} line {where['line']}: {text!r} not in {line!r}"
        line = self.lines[where["line"] - 1] if 1 <= where["line"] <= len(self.lines) else ""
        return None if squash(text) in squash(line) else f"line {where['line']}: {text!r} not in {line!r}"

    def cell(self, where: dict) -> str | None:
        """The printed cell at (row label, leaf column header[, group]) of a table claim."""
        grid = self.tables[where["table"] - 1]
        col = None
        for i, row in enumerate(grid[:3]):
            for j, c in enumerate(row):
                if squash(c) != squash(where["column"]) or col is not None:
                    continue
                group = where.get("group")
                if group is None or (i > 0 and squash(grid[i - 1][j]) == squash(group)):
                    col = j
        if col is None:
            return None
        for row in grid:
            if squash(where["row"]) in [squash(c) for c in row[:3]]:
                return squash(row[col])
        return None


    def holds(self, where: dict, value: str) -> str | None:
        """None when the figure is printed where it is said to be."""
        if "table" in where:
            got = self.cell(where)
            return None if got == value else f"cell {where} holds {got!r}, not {value!r}"
        if "paragraph" in where:
            text = self.paragraphs[where["paragraph"] - 1]
        elif "page" in where:
            text = self.pages[where["page"] - 1][where["line"] - 1]
        else:
            text = self.lines[where["line"] - 1]
        return None if value in text else f"{where}: {value!r} not in {text!r}"


KEY = {"sum": "total", "share": "stated", "fraction": "done", "status": "done"}


def check(truth_path: Path) -> list[str]:
    problems = []
    t = json.loads(truth_path.read_text(encoding="utf-8"))
    doc_path = HERE / t["document"]
    if not doc_path.exists():
        return [f"{truth_path.name}: missing document {t['document']}"]
    doc = Doc(doc_path)
    for i, c in enumerate(t["claims"], 1):
        tag = f"{truth_path.name} claim {i} ({c['kind']})"
        if c["kind"] not in KINDS:
            problems.append(f"{tag}: unknown kind")
            continue
        msg = doc.find(c["where"], c["text"])
        if msg:
            problems.append(f"{tag}: {msg}")
        if c["consistent"] != "unclear" and verdict(c) != c["consistent"]:
            problems.append(f"{tag}: arithmetic says {verdict(c)}, truth says {c['consistent']}")
        if "table" in c["where"] and c["kind"] in KEY:
            got = doc.cell(c["where"])
            want = c["figures"][KEY[c["kind"]]]
            if got != want:
                problems.append(f"{tag}: cell {c['where']} holds {got!r}, figures say {want!r}")
        if c["kind"] == "repeat":
            values = c["figures"]["values"]
            for w, value in ((c["where"], values[0]), (c["figures"]["where_else"], values[-1])):
                msg = doc.holds(w, value)
                if msg:
                    problems.append(f"{tag}: {msg}")
    for i, n in enumerate(t["not_claims"], 1):
        msg = doc.find(n["where"], n["text"])
        if msg:
            problems.append(f"{truth_path.name} not_claim {i}: {msg}")
    return problems


def main() -> int:
    problems = []
    for truth in sorted(HERE.glob("*.truth.json")):
        found = check(truth)
        t = json.loads(truth.read_text(encoding="utf-8"))
        counts = {k: sum(1 for c in t["claims"] if c["kind"] == k) for k in KINDS}
        wrong = sum(1 for c in t["claims"] if c["consistent"] is False)
        print(f"{t['document']}: {counts} inconsistent={wrong} not_claims={len(t['not_claims'])}"
              f" {'OK' if not found else 'PROBLEMS'}")
        problems += found
    for p in problems:
        print("  " + p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
