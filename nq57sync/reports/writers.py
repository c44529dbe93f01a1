"""Laying a `ReportContent` out as .md, .html, .xlsx or .docx."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jinja2

from nq57sync.errors import UsageError
from nq57sync.files import atomic_path
from nq57sync.reports import charts
from nq57sync.reports.content import Cell, Percent, ReportContent, Table, fmt, table_rows
from nq57sync.text import printable

FORMATS = ("docx", "xlsx", "html", "md")

_env = jinja2.Environment(
    loader=jinja2.PackageLoader("nq57sync", "templates"),
    autoescape=jinja2.select_autoescape(["html.j2"]),
    trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
)
_env.globals.update(fmt=fmt, rows=table_rows,
                    is_number=lambda c: isinstance(c, (int, float, Percent)) and c is not None,
                    md=lambda c: _md(c))


def _md(cell: Cell) -> str:
    """A cell inside a Markdown table: pipes escaped, one line, whole numbers whole."""
    if isinstance(cell, float) and cell.is_integer():
        cell = int(cell)
    return fmt(cell).replace("|", "\\|").replace("\r", " ").replace("\n", " ")


def write(content: ReportContent, path: Path, fmt_name: str | None = None) -> Path:
    kind = (fmt_name or path.suffix.lstrip(".")).lower()
    writer: dict[str, Callable[[ReportContent, Path], None]] = {
        "md": write_md, "html": write_html, "xlsx": write_xlsx, "docx": write_docx}
    if kind not in writer:
        raise UsageError(f"Không hỗ trợ định dạng báo cáo “{kind}”; chọn một trong: "
                         f"{', '.join(FORMATS)}.")
    try:
        with atomic_path(path) as temporary:
            writer[kind](content, temporary)
    except OSError as exc:
        raise UsageError(f"Không ghi được báo cáo {path}: {exc.strerror or exc}.") from None
    return path


def write_md(content: ReportContent, path: Path) -> None:
    path.write_text(_env.get_template("report.md.j2").render(r=content), encoding="utf-8")


def write_html(content: ReportContent, path: Path) -> None:
    svgs = {c.key: charts.svg(c) for c in content.charts()}
    path.write_text(_env.get_template("report.html.j2").render(r=content, svgs=svgs),
                    encoding="utf-8")


# -- Excel --------------------------------------------------------------------

def _sheet_name(title: str, used: set[str]) -> str:
    base = "".join(ch for ch in title if ch not in "[]:*?/\\")[:28].strip() or "Bảng"
    name, n = base, 2
    while name in used:
        name, n = f"{base[:25]} {n}", n + 1
    used.add(name)
    return name


def write_xlsx(content: ReportContent, path: Path) -> None:
    from openpyxl import Workbook
    from openpyxl.chart import BarChart, LineChart, Reference
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    book = Workbook()
    summary = book.active
    summary.title = "Tóm tắt"
    # The issuing body on the left (A), the national motto on the right (C), as on paper.
    summary.column_dimensions["A"].width = 70
    summary.column_dimensions["B"].width = 4
    summary.column_dimensions["C"].width = 50
    for row, (left, right) in enumerate(((content.parent_body, "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM"),
                                         (content.unit_name, "Độc lập - Tự do - Hạnh phúc"),
                                         ("", content.place_and_date)), 1):
        summary.cell(row, 1, _xlsx_value(left)).font = Font(bold=row == 2)
        summary.cell(row, 3, _xlsx_value(right)).font = Font(bold=row < 3, italic=row == 3)
        summary.cell(row, 3).alignment = Alignment(horizontal="center")
    for line in ("", content.title, content.subtitle, content.period_line):
        summary.append([_xlsx_value(line)])
    wrap = Alignment(wrap_text=True, vertical="top")

    def paragraph(text: str, **font: bool) -> None:
        summary.append([_xlsx_value(text)])
        row = summary.max_row
        summary.merge_cells(start_row=row, start_column=1, end_row=row, end_column=3)
        summary.cell(row, 1).alignment = wrap
        summary.cell(row, 1).font = Font(**font)
        summary.row_dimensions[row].height = 15 * max(1, -(-len(text) // 120))

    for section in content.sections:
        summary.append([])
        paragraph(section.title, bold=True)
        for text in section.paragraphs:
            paragraph(text)
    used = {summary.title}
    header_fill = PatternFill("solid", fgColor="DDE6F0")
    for section in content.sections:
        for table in section.tables:
            sheet = book.create_sheet(_sheet_name(table.sheet or table.title, used))
            # A title row names the table and its source; the header is the second row.
            sheet.append([_xlsx_value(table.title)])
            sheet.cell(1, 1).font = Font(bold=True, size=12)
            sheet.append([_xlsx_value(h) for h in table.header])
            for cell in sheet[2]:
                cell.font, cell.fill = Font(bold=True), header_fill
                cell.alignment = Alignment(wrap_text=True, vertical="center")
            widths = [len(h) for h in table.header]
            for row in table.rows:
                sheet.append([_xlsx_value(c) for c in row])
                for i, (cell, value) in enumerate(zip(sheet[sheet.max_row], row, strict=False)):
                    if isinstance(value, Percent):
                        cell.number_format = "0.0%"
                    elif isinstance(value, int):
                        cell.number_format = "#,##0"
                    elif isinstance(value, float):
                        cell.number_format = "#,##0.00"
                    elif isinstance(value, str) and len(value) > 60:
                        cell.alignment = wrap
                    widths[i] = max(widths[i], len(fmt(value)))
            sheet.freeze_panes = "B3" if len(table.header) > 6 else "A3"
            if table.rows:
                sheet.auto_filter.ref = (f"A2:{get_column_letter(len(table.header))}"
                                         f"{len(table.rows) + 2}")
            for i, width in enumerate(widths, 1):
                sheet.column_dimensions[get_column_letter(i)].width = min(60, max(8, width + 2))
    charts_sheet = None
    start = 1
    for chart in content.charts():
        if not chart.categories:
            continue
        if charts_sheet is None:
            charts_sheet = book.create_sheet("Biểu đồ")
            charts_sheet.column_dimensions["A"].width = 28
            for column in "BCDE":
                charts_sheet.column_dimensions[column].width = 16
            # Printed (or turned into PDF) one page wide, in landscape: charts whole.
            charts_sheet.page_setup.orientation = "landscape"
            charts_sheet.sheet_properties.pageSetUpPr.fitToPage = True
            charts_sheet.page_setup.fitToWidth, charts_sheet.page_setup.fitToHeight = 1, 0
        charts_sheet.cell(start, 1, _xlsx_value(chart.title)).font = Font(bold=True)
        for j, (name, _) in enumerate(chart.series, 2):
            charts_sheet.cell(start + 1, j, _xlsx_value(name))
        for i, category in enumerate(chart.categories):
            charts_sheet.cell(start + 2 + i, 1, _xlsx_value(category))
            for j, (_, values) in enumerate(chart.series, 2):
                charts_sheet.cell(start + 2 + i, j, round(values[i], 2))
        drawing = LineChart() if chart.kind == "line" else BarChart()
        drawing.title = chart.title
        drawing.height, drawing.width = 7.5, 18   # centimetres: about 15 rows
        end = start + 1 + len(chart.categories)
        drawing.add_data(Reference(charts_sheet, min_col=2, max_col=1 + len(chart.series),
                                   min_row=start + 1, max_row=end), titles_from_data=True)
        drawing.set_categories(Reference(charts_sheet, min_col=1, min_row=start + 2, max_row=end))
        charts_sheet.add_chart(drawing, f"{get_column_letter(len(chart.series) + 3)}{start}")
        # The next chart starts below both this one's data and its drawing.
        start = max(end, start + 16) + 2
    _no_formulas(book)
    book.save(path)


def _no_formulas(book: Any) -> None:
    """Every text cell is text: openpyxl turns a string starting with "=" into a live
    formula (a source's `=HYPERLINK(…)` would run in the official's Excel)."""
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                if cell.data_type == "f":
                    cell.data_type = "s"
                    cell.quotePrefix = True


def _xlsx_value(cell: Cell) -> object:
    if isinstance(cell, Percent):
        return cell.value
    if isinstance(cell, str):
        return printable(cell)
    return cell


# -- Word (Decree 30/2020/NĐ-CP) ------------------------------------------------

def write_docx(content: ReportContent, path: Path) -> None:
    from docx import Document
    from docx.enum.section import WD_ORIENT
    from docx.enum.table import WD_TABLE_ALIGNMENT
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.oxml.ns import qn
    from docx.shared import Mm, Pt

    document = Document()
    section = document.sections[0]
    section.orientation = WD_ORIENT.PORTRAIT
    section.page_width, section.page_height = Mm(210), Mm(297)
    section.top_margin, section.bottom_margin = Mm(20), Mm(20)
    section.left_margin, section.right_margin = Mm(30), Mm(15)
    style = document.styles["Normal"]
    style.font.name, style.font.size = "Times New Roman", Pt(14)
    style.element.rPr.rFonts.set(qn("w:eastAsia"), "Times New Roman")
    style.paragraph_format.space_after = Pt(6)

    def para(text: str = "", *, bold: bool = False, italic: bool = False, size: int = 14,
             align: object = WD_ALIGN_PARAGRAPH.JUSTIFY, indent: bool = False, cell=None):
        target = cell if cell is not None else document
        p = target.add_paragraph()
        p.alignment = align
        if indent:
            p.paragraph_format.first_line_indent = Mm(10)
        run = p.add_run(printable(text))
        run.bold, run.italic, run.font.size = bold, italic, Pt(size)
        run.font.name = "Times New Roman"
        return p

    header = document.add_table(rows=1, cols=2)
    header.alignment = WD_TABLE_ALIGNMENT.CENTER
    left, right = header.rows[0].cells
    left.paragraphs[0].text = ""
    para(content.parent_body, size=13, align=WD_ALIGN_PARAGRAPH.CENTER, cell=left)
    para(content.unit_name, bold=True, size=13, align=WD_ALIGN_PARAGRAPH.CENTER, cell=left)
    para("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", bold=True, size=13,
         align=WD_ALIGN_PARAGRAPH.CENTER, cell=right)
    para("Độc lập - Tự do - Hạnh phúc", bold=True, size=14, align=WD_ALIGN_PARAGRAPH.CENTER,
         cell=right)
    para(content.place_and_date, italic=True, align=WD_ALIGN_PARAGRAPH.RIGHT, cell=right)
    para(content.title, bold=True, size=14, align=WD_ALIGN_PARAGRAPH.CENTER)
    para(content.subtitle, bold=True, align=WD_ALIGN_PARAGRAPH.CENTER)
    para(content.period_line, italic=True, align=WD_ALIGN_PARAGRAPH.CENTER)
    pictures = {c.key: charts.png(c) for c in content.charts() if c.categories}
    for part in content.sections:
        para(part.title, bold=True)
        for text in part.paragraphs:
            para(text, indent=True)
        for chart in part.charts:
            if chart.key in pictures:
                document.add_picture(io.BytesIO(pictures[chart.key]), width=Mm(160))
        for table in part.tables:
            _docx_table(document, table, para, Pt)
    signature = document.add_table(rows=1, cols=2)
    recipients, signer = signature.rows[0].cells
    recipients.paragraphs[0].text = ""
    para("Nơi nhận:", bold=True, italic=True, size=12, align=WD_ALIGN_PARAGRAPH.LEFT,
         cell=recipients)
    for line in content.recipients:
        para(f"- {line}", size=11, align=WD_ALIGN_PARAGRAPH.LEFT, cell=recipients)
    para(content.signer_title, bold=True, align=WD_ALIGN_PARAGRAPH.CENTER, cell=signer)
    for _ in range(3):
        para("", cell=signer)
    para(content.signer_name, bold=True, align=WD_ALIGN_PARAGRAPH.CENTER, cell=signer)
    document.save(path)


def _docx_table(document, table: Table, para, Pt) -> None:  # type: ignore[no-untyped-def]
    from docx.enum.text import WD_ALIGN_PARAGRAPH

    para(table.title, bold=True, size=13, align=WD_ALIGN_PARAGRAPH.LEFT)
    rows = table_rows(table)
    grid = document.add_table(rows=1 + len(rows), cols=len(table.header))
    grid.style = "Table Grid"
    size = 9 if len(table.header) > 8 else 11
    for i, title in enumerate(table.header):
        cell = grid.rows[0].cells[i]
        cell.text = ""
        run = cell.paragraphs[0].add_run(printable(title))
        run.bold, run.font.size = True, Pt(size)
    for r, row in enumerate(rows, 1):
        cells = grid.rows[r].cells
        for i, value in enumerate(row):
            paragraph = cells[i].paragraphs[0]
            run = paragraph.add_run(printable(fmt(value)))
            run.font.size = Pt(size)
            if isinstance(value, (int, float, Percent)):
                paragraph.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    if table.note:
        para(table.note, italic=True, size=12)
    if table.shown and len(table.rows) > table.shown:
        para(f"… và {fmt(len(table.rows) - table.shown)} dòng khác (xem đủ trong tệp Excel).",
             italic=True, size=12)
