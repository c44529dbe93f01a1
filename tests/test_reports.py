"""Reports, opened again with the libraries that read their formats."""

import re
import shutil
import subprocess
from pathlib import Path

import docx
import lxml.html
import openpyxl
import pytest
from docx.shared import Mm, Pt
from sim import reconciled_simulation, simulation, workspace

from nq57sync import vi
from nq57sync.reports.content import build

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "build"


@pytest.fixture(scope="module")
def reported(tmp_path_factory):
    """One synced, reconciled simulation and its four reports."""
    folder = tmp_path_factory.mktemp("reports")
    with reconciled_simulation(folder) as (ws, result):
        paths = {fmt: ws.report(result, folder / f"bao-cao.{fmt}") for fmt in
                 ("docx", "xlsx", "html", "md")}
        yield result, build(result, ws.store, ws.config), paths



def test_docx_follows_decree_30_and_carries_the_figures(reported):
    _result, content, paths = reported
    document = docx.Document(paths["docx"])
    section = document.sections[0]
    assert (round(section.page_width.mm), round(section.page_height.mm)) == (210, 297)
    assert round(section.left_margin.mm) == 30 and round(section.right_margin.mm) == 15
    assert round(section.top_margin.mm) == 20 and round(section.bottom_margin.mm) == 20
    assert document.styles["Normal"].font.name == "Times New Roman"
    assert document.styles["Normal"].font.size == Pt(14)
    header = document.tables[0].rows[0].cells
    assert "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM" in header[1].text
    assert "Độc lập - Tự do - Hạnh phúc" in header[1].text
    text = "\n".join(p.text for p in document.paragraphs)
    assert "BÁO CÁO" in text and "Kỳ báo cáo: từ" in text
    for s in content.sections:
        assert s.title in text
    assert "Nơi nhận:" in document.tables[-1].rows[0].cells[0].text
    # The standard-form total row equals the content's, in Vietnamese format.
    form = next(t for t in document.tables if t.rows[0].cells[0].text == "Đơn vị")
    total = [c.text for c in form.rows[-1].cells]
    expected = content.sections[0].tables[0].rows[-1]
    assert total[0] == "Tổng cộng" and total[5] == vi.number(expected[5])
    assert re.fullmatch(r"\d{1,3}(\.\d{3})*", total[5]) and "," in total[-1]
    assert len(document.inline_shapes) >= 2  # charts as pictures
    assert Mm(150) < document.inline_shapes[0].width <= Mm(161)


def test_xlsx_has_a_sheet_per_table_frozen_headers_filters_and_number_formats(reported):
    result, content, paths = reported
    book = openpyxl.load_workbook(paths["xlsx"])
    tables = [t for s in content.sections for t in s.tables]
    assert len(book.sheetnames) == 1 + len(tables) + 1  # summary, tables, charts
    dossiers = book["Hồ sơ sai lệch"]
    # A title row names the table; the header is the second row, frozen and filtered.
    assert dossiers.cell(1, 1).value == "Danh sách hồ sơ sai lệch"
    assert dossiers.freeze_panes in ("A3", "B3") and dossiers.auto_filter.ref.startswith("A2:")
    assert dossiers.max_row == 2 + len(result.discrepancies) + len(result.resolved)
    codes = {dossiers.cell(r, 2).value for r in range(3, dossiers.max_row + 1)}
    assert codes == {d.dossier_code for d in (*result.discrepancies, *result.resolved)}
    # Each sheet's name says which system its figures come from.
    assert [n for n in book.sheetnames if n.startswith("B")][:2] == [
        "B1 Công bố Một cửa", "B2 Công bố Cổng DVCQG"]
    form = book[book.sheetnames[1]]
    assert form.cell(1, 1).value.startswith("Bảng 1. Số liệu công bố trên Hệ thống Một cửa")
    assert form.cell(2, 1).value == "Đơn vị"
    assert form.cell(3, 6).number_format == "#,##0" and isinstance(form.cell(3, 6).value, int)
    assert form.cell(3, 16).number_format == "0.0%" and 0 <= form.cell(3, 16).value <= 1
    assert book["Biểu đồ"]._charts, "native Excel charts"
    summary = "\n".join(str(c.value) for row in book["Tóm tắt"].iter_rows() for c in row if c.value)
    assert "Độc lập - Tự do - Hạnh phúc" in summary and "Từ ngày" in summary


def test_html_is_self_contained_with_inline_charts_and_every_section(reported):
    result, content, paths = reported
    text = paths["html"].read_text(encoding="utf-8")
    page = lxml.html.fromstring(text)
    assert not page.xpath("//script[@src] | //link[@href] | //img[starts-with(@src, 'http')]")
    assert not re.search(r"""(src|href|url)\s*[=(]\s*["']?https?:""", text)
    assert len(page.xpath("//figure[@class='chart']/*[local-name()='svg']")) == len(content.charts())
    headings = [h.text_content() for h in page.xpath("//h2")]
    assert headings == [s.title for s in content.sections]
    assert page.xpath("//meta[@name='viewport']")
    rows = page.xpath("//table[caption[starts-with(., 'Danh sách hồ sơ')]]/tbody/tr")
    assert len(rows) == min(200, len(result.discrepancies) + len(result.resolved))
    kinds = {td.text_content() for td in page.xpath(
        "//table[caption='Bảng sai lệch theo loại']/tbody/tr/td[1]")}
    assert {vi.DISCREPANCY_KINDS[k] for k in result.by_kind()} <= kinds


def test_md_carries_the_statistics_paragraph(reported):
    _result, content, paths = reported
    text = paths["md"].read_text(encoding="utf-8")
    assert content.sections[0].paragraphs[0] in text
    assert re.search(r"tiếp nhận \d{1,3}(\.\d{3})* hồ sơ \(trong đó", text)
    assert re.search(r"= \d{1,3},\d%", text)
    assert "| Đơn vị | Kỳ trước chuyển qua |" in text


UNACCENTED = ["ho so", "giai quyet", "tiep nhan", "truc tuyen", "truc tiep", "bao cao",
              "don vi", "sai lech", "dong bo", "thu tuc", "qua han", "dung han", "ty le",
              "chua co", "khong co", "kiem tra", "cong dich vu"]


def test_templates_and_report_strings_have_their_diacritics():
    sources = [*(ROOT / "nq57sync" / "templates").glob("*.j2"),
               *(ROOT / "nq57sync" / "reports").glob("*.py"),
               *(ROOT / "nq57sync" / "reconcile").glob("*.py"), ROOT / "nq57sync" / "vi.py",
               ROOT / "nq57sync" / "sources.py", ROOT / "nq57sync" / "rules.py",
               ROOT / "nq57sync" / "reconcile_view.py", ROOT / "nq57sync" / "cli.py"]
    for path in sources:
        text = path.read_text(encoding="utf-8").lower()
        for word in UNACCENTED:
            assert not re.search(rf"\b{word}\b", text), f"{path.name}: “{word}” lacks diacritics"


@pytest.mark.skipif(not (shutil.which("chromium") or shutil.which("chromium-browser")),
                    reason="Debian chromium is installed by .ci/run")
def test_html_report_renders_in_headless_chromium(reported):
    _, content, paths = reported
    BUILD.mkdir(exist_ok=True)
    png = BUILD / "report.png"
    png.unlink(missing_ok=True)
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    result = subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
         "--no-first-run", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", f"--user-data-dir={paths['html'].parent / 'chromium'}",
         "--window-size=1100,2600", f"--screenshot={png}", paths["html"].as_uri()],
        capture_output=True, text=True, timeout=120)
    assert png.exists() and png.stat().st_size > 20_000, result.stderr[-500:]
    dom = subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-background-networking", f"--user-data-dir={paths['html'].parent / 'c2'}",
         "--dump-dom", paths["html"].as_uri()], capture_output=True, text=True, timeout=120)
    page = lxml.html.fromstring(dom.stdout)
    assert len(page.xpath("//figure[@class='chart']/*[local-name()='svg']")) == len(content.charts())
    assert page.xpath("//h1")[0].text_content() == "BÁO CÁO"


def test_a_plugin_adds_a_section_to_every_format(tmp_path, monkeypatch):
    import nq57sync
    from nq57sync.hooktypes import ReportSection
    from nq57sync.plugins import make_plugin_manager

    class ExtraSection:
        @nq57sync.hookimpl
        def nq57sync_report_sections(self, result, config):
            return [ReportSection("Phụ lục: hồ sơ đất đai", ("Theo dõi riêng lĩnh vực đất đai.",),
                                  (("Lĩnh vực", "Số hồ sơ"), ("Đất đai", "12")))]

    with simulation(monkeypatch) as sim:
        ws = workspace(sim, tmp_path / "s.db")
        ws.pm = make_plugin_manager(ExtraSection())
        ws.sync(sim.period)
        result = ws.reconcile(sim.period)
        for fmt in ("md", "html", "docx", "xlsx"):
            ws.report(result, tmp_path / f"r.{fmt}")
        assert "Phụ lục: hồ sơ đất đai" in (tmp_path / "r.md").read_text(encoding="utf-8")
        assert "Theo dõi riêng lĩnh vực đất đai." in (tmp_path / "r.html").read_text(encoding="utf-8")
        assert any(p.text == "Phụ lục: hồ sơ đất đai" for p in docx.Document(tmp_path / "r.docx").paragraphs)
        assert any(n.startswith("Phụ lục") for n in openpyxl.load_workbook(tmp_path / "r.xlsx").sheetnames)


#: What no person at the centre should have to read in a report: internal codes, English
#: words, ISO timestamps, raw status or channel codes alone, rule ids, -0.
FORBIDDEN = [
    r"\bon_time\b", r"\blate\b", r"\bearly\b", r"\bin_time\b", r"\boverdue\b",
    r"\breceived_(parts|balance|total|online)\b", r"\bresolved_parts\b", r"\bpending_parts\b",
    r"\bpublished_vs_dossiers\b", r"\bcumulative_non_decreasing\b", r"\b(motcua|dvcqg)\b",
    r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}", r"\(complete\)", r"\bstatus\b", r"\bchannel\b",
    r"\bNone\b", r"\bnull\b", r"-0(,0+)?\b", r"\b(\d+) so với \1\b",
]


def _report_texts(paths):
    document = docx.Document(paths["docx"])
    yield "docx", "\n".join([p.text for p in document.paragraphs] + [
        c.text for t in document.tables for r in t.rows for c in r.cells])
    book = openpyxl.load_workbook(paths["xlsx"])
    yield "xlsx", "\n".join(str(c.value) for s in book.worksheets for r in s.iter_rows()
                            for c in r if c.value is not None)
    yield "html", lxml.html.fromstring(paths["html"].read_bytes()).text_content()
    yield "md", paths["md"].read_text(encoding="utf-8")


def test_no_internal_code_english_word_or_iso_timestamp_where_a_person_reads(reported):
    result, _content, paths = reported
    assert any(d.field == "status" for d in result.discrepancies)
    for fmt, text in _report_texts(paths):
        for pattern in FORBIDDEN:
            found = re.search(pattern, text)
            assert found is None, f"{fmt}: “{found and found.group(0)}” in " + text[
                max(0, found.start() - 80):found.end() + 80] if found else ""
        # Status and channel values carry their names.
        assert re.search(r"(?<!\d)(10 – Đã trả kết quả|9 – Đã xử lý xong|4 – Đang xử lý)", text)
        assert re.search(r"\d{2}/\d{2}/\d{4} \d{2}:\d{2}", text)
