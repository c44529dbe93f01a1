"""Exported dossier lists as officers download them, in the three formats they save.

Both simulators write their screens' lists through `write_table`: an HTML
table saved as .xls (what the portals' "Xuất Excel" buttons give), a real .xlsx,
or a CSV (UTF-8 with a byte-order mark, semicolons, as Excel in Vietnam saves).
"""

from __future__ import annotations

import csv
import html
from collections.abc import Sequence
from pathlib import Path


def write_table(path: Path, header: Sequence[str], rows: Sequence[Sequence[str]]) -> Path:
    """The list in the format its suffix names: .xls (HTML table), .xlsx or .csv."""
    suffix = path.suffix.lower()
    if suffix == ".xls":
        cells = "".join(f"<th>{html.escape(c)}</th>" for c in header)
        lines = [f"<tr>{cells}</tr>"]
        for row in rows:
            lines.append("<tr>" + "".join(f"<td>{html.escape(v)}</td>" for v in row) + "</tr>")
        path.write_text(
            "<html><head><meta charset=\"utf-8\"></head><body><table border=\"1\">"
            + "\n".join(lines) + "</table></body></html>", encoding="utf-8")
    elif suffix == ".xlsx":
        import openpyxl

        book = openpyxl.Workbook()
        sheet = book.active
        sheet.append(list(header))
        for row in rows:
            sheet.append(list(row))
        book.save(path)
    elif suffix == ".csv":
        with path.open("w", encoding="utf-8-sig", newline="") as out:
            writer = csv.writer(out, delimiter=";")
            writer.writerow(header)
            writer.writerows(rows)
    else:
        raise ValueError(f"unknown export format {path.suffix}")
    return path
