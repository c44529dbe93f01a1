"""`nq57sync check-report`: a draft report's arithmetic, and its figures against the store."""

from __future__ import annotations

import json
import random
import re
import subprocess
import unicodedata
from decimal import Decimal
from pathlib import Path

import docx
import pytest
from conftest import cli_env, nq57sync_exe
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sim import simulation, workspace

from nq57sync import vi
from nq57sync.checkreport import check, period_in_text, read_document
from nq57sync.checkreport.reading import read_number
from nq57sync.errors import DataError

SEEDS = Path(__file__).resolve().parent.parent.parent / "shared" / "seeds"
SEED_FILES = sorted(SEEDS.glob("*.txt"))


def run(text: str, tmp_path: Path, name: str = "bao-cao.txt"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return check(read_document(path))


# -- the three source reports ---------------------------------------------------------

@pytest.mark.skipif(not SEED_FILES, reason="the shared seeds are beside the checkout")
def test_seed_reports_the_known_inconsistency_and_nothing_else():
    found = {}
    for path in SEED_FILES:
        result = check(read_document(path))
        found[path.name] = [c for c in result.checks if c.status == "mismatch"]
        assert all(c.status in ("ok", "unclear", "mismatch") for c in result.checks)
    city = found.pop("hai-phong-nq57-q3-2025.txt")
    # 407,28 tỷ đồng (gồm: 251,2 + 155,8 = 407,0): the one figure that does not add up.
    assert [(c.kind, c.stated, c.computed, c.terms) for c in city] == [
        ("sum", "407,28", "407,00", ("251,2", "155,8"))]
    assert "407,00" in city[0].message and city[0].line == 1077
    assert found == {name: [] for name in found}
    # Consistent figures are recognised as such, not only left alone.
    q3 = check(read_document(SEEDS / "hai-phong-nq57-q3-2025.txt"))
    ok = {(c.kind, c.stated) for c in q3.checks if c.status == "ok"}
    assert {("sum", "352,82"), ("share", "0,57%"), ("status", "84")} <= ok
    nq57 = check(read_document(SEEDS / "cat-hai-nq57-report-2025-12.txt"))
    assert {("status", "11"), ("status", "23")} <= {(c.kind, c.stated) for c in nq57.checks
                                                    if c.status == "ok"}


@pytest.mark.skipif(not SEED_FILES, reason="the shared seeds are beside the checkout")
def test_the_period_is_read_from_the_report():
    lines = read_document(SEEDS / "hai-phong-nq57-q3-2025.txt").lines
    period, reason = period_in_text(lines)
    assert period is not None and period.label == "2025-Q3" and "quý iii/2025" in reason.lower()
    assert period_in_text(["Báo cáo", "Từ ngày 15/12/2025 đến ngày 14/01/2026"])[0].label \
        == "2025-12-15..2026-01-14"
    assert period_in_text(["Kết quả tháng 11/2025"])[0].label == "2025-11"


# -- numbers ------------------------------------------------------------------------------

def test_vietnamese_numbers_and_their_ocr_forms():
    assert read_number("2.318", "ho so") == (Decimal(2318), 0)
    assert read_number("2,318", "ho so") == (Decimal(2318), 0)       # OCR's comma in a count
    assert read_number("2318", "ho so") == (Decimal(2318), 0)
    assert read_number("407,28", "ty dong") == (Decimal("407.28"), 2)
    assert read_number("37.4", "%") == (Decimal("37.4"), 1)
    assert read_number("05", "nhiem vu") == (Decimal(5), 0)
    assert read_number("1.234.567", "") == (Decimal(1234567), 0)
    assert read_number("1.234,5", "ty dong") == (Decimal("1234.5"), 1)


@given(st.binary(max_size=3000))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_garbage_files_raise_the_projects_error_only(tmp_path, data):
    for suffix in (".docx", ".pdf", ".txt"):
        path = tmp_path / f"rac{suffix}"
        path.write_bytes(data)
        try:
            check(read_document(path))
        except DataError as exc:
            assert path.name in str(exc)


# -- generated reports ---------------------------------------------------------------------

def _values(figures: dict[str, int]) -> dict[str, str]:
    """Every figure of a generated report, consistent by construction, written the Vietnamese way."""
    n = vi.number
    received = figures["online"] + figures["direct"]
    return {"received": n(received), "online": n(figures["online"]),
            "direct": n(figures["direct"]),
            "share": vi.percent(vi.share(figures["online"], received)),
            "resolved": n(figures["early"] + figures["on_time"] + figures["late"]),
            "early": n(figures["early"]), "on_time": n(figures["on_time"]),
            "late": n(figures["late"]),
            "assigned": n(figures["done"] + figures["doing"] + figures["overdue"]),
            "done": n(figures["done"]), "doing": n(figures["doing"]),
            "overdue": n(figures["overdue"])}


def _render(v: dict[str, str]) -> str:
    """A report of our own sentence shapes: totals with parts, a share, bullets, task statuses."""
    return "\n".join([
        "BÁO CÁO KẾT QUẢ GIẢI QUYẾT THỦ TỤC HÀNH CHÍNH THÁNG 11/2025",
        "",
        f"1. Tổng số hồ sơ tiếp nhận trong kỳ là {v['received']} hồ sơ, trong đó {v['online']} "
        f"hồ sơ trực tuyến và {v['direct']} hồ sơ trực tiếp (tỷ lệ trực tuyến {v['share']}).",
        f"2. Số hồ sơ đã giải quyết {v['resolved']} hồ sơ, gồm:",
        f"- Trước hạn: {v['early']} hồ sơ;",
        f"- Đúng hạn: {v['on_time']} hồ sơ;",
        f"- Quá hạn: {v['late']} hồ sơ.",
        f"3. Năm 2025, UBND được giao {v['assigned']} nhiệm vụ, đã hoàn thành {v['done']} nhiệm "
        f"vụ, đang thực hiện {v['doing']} nhiệm vụ, quá hạn {v['overdue']} nhiệm vụ.",
    ])


def _report(figures: dict[str, int]) -> tuple[str, dict[str, str]]:
    values = _values(figures)
    return _render(values), values


FIGURES = st.fixed_dictionaries({
    "online": st.integers(1, 40_000), "direct": st.integers(1, 40_000),
    "early": st.integers(1, 9_000), "on_time": st.integers(1, 9_000), "late": st.integers(0, 900),
    "done": st.integers(1, 60), "doing": st.integers(1, 60), "overdue": st.integers(0, 9)})


def _statuses(result) -> dict[tuple[str, int], str]:
    return {(c.kind, c.line): c.status for c in result.checks}


@given(FIGURES)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_a_consistent_generated_report_has_no_mismatch(tmp_path, figures):
    text, _ = _report(figures)
    result = run(text, tmp_path)
    assert [c for c in result.checks if c.status != "ok"] == []
    assert {c.kind for c in result.checks} >= {"sum", "share", "status"}


@given(FIGURES, st.sampled_from(["received", "resolved", "early", "assigned", "share"]),
       st.integers(1, 50))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_one_changed_figure_gives_exactly_the_mismatch_it_causes(tmp_path, figures, which, by):
    values = _values(figures)
    stated = values[which]
    if which == "share":
        wrong = vi.number(float(Decimal(stated.rstrip("%").replace(",", ".")) + by), 1) + "%"
    else:
        wrong = vi.number(int(stated.replace(".", "")) + by)
    result = run(_render({**values, which: wrong}), tmp_path)
    bad = [(c.kind, c.stated) for c in result.checks if c.status == "mismatch"]
    if which == "early":     # a part is wrong: its total's sum says so
        assert bad == [("sum", values["resolved"])]
    elif which == "received":
        # The total is wrong; the share computed on it too unless its rounding hides it.
        assert ("sum", wrong) in bad and set(bad) <= {("sum", wrong), ("share", values["share"])}
    else:
        expected = {"resolved": ("sum", wrong), "assigned": ("status", wrong),
                    "share": ("share", wrong)}
        assert bad == [expected[which]]


_OCR = {"ố": "6", "ơ": "o", "ồ": "ô", "ệ": "é", "ậ": "à", "l": "1"}


def _ocr(text: str, rng: random.Random) -> str:
    """OCR noise: diacritics stripped or swapped, letters read as digits, stray punctuation."""
    out = []
    for word in text.split(" "):
        if re.search(r"\d", word) or not word:
            out.append(word)
            continue
        roll = rng.random()
        if roll < 0.3:
            word = "".join(c for c in unicodedata.normalize("NFD", word)
                           if unicodedata.category(c) != "Mn").replace("đ", "d").replace("Đ", "D")
        elif roll < 0.6:
            word = "".join(_OCR.get(c, c) if c != "l" or rng.random() < 0.3 else c for c in word)
        if rng.random() < 0.05:
            word += "'"
        out.append(word)
    return " ".join(out)


@given(FIGURES, st.integers(0, 2**32))
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_ocr_noise_gives_the_same_checks_at_most_unclear(tmp_path, figures, seed):
    text, _ = _report(figures)
    clean = _statuses(run(text, tmp_path))
    noisy = _statuses(run(_ocr(text, random.Random(seed)), tmp_path, "ocr.txt"))
    for key, status in noisy.items():
        assert status != "mismatch", (key, _ocr(text, random.Random(seed)))
        assert key in clean
    assert all(noisy.get(key, "unclear") in (status, "unclear") for key, status in clean.items())


# -- formats ------------------------------------------------------------------------------

def test_docx_pdf_and_markdown_are_read_alike(tmp_path):
    text, _ = _report({"online": 1500, "direct": 818, "early": 40, "on_time": 50, "late": 3,
                       "done": 6, "doing": 5, "overdue": 0})
    document = docx.Document()
    for line in text.splitlines():
        document.add_paragraph(line)
    document.save(tmp_path / "bao-cao.docx")
    (tmp_path / "bao-cao.md").write_text(text, encoding="utf-8")
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    font = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
    if font.exists():
        pdf.add_font("DejaVu", fname=str(font))
        pdf.set_font("DejaVu", size=10)
        written = text
    else:  # without a Unicode font the PDF carries the text folded, as OCR would give it
        pdf.set_font("Helvetica", size=10)
        written = _ocr(text, random.Random(1)).encode("latin-1", "replace").decode("latin-1")
    for line in written.splitlines():
        pdf.multi_cell(0, 6, line or " ", new_x="LMARGIN", new_y="NEXT")
    pdf.output(str(tmp_path / "bao-cao.pdf"))
    kinds = {}
    for suffix in (".docx", ".md", ".pdf"):
        result = check(read_document(tmp_path / f"bao-cao{suffix}"))
        assert not [c for c in result.checks if c.status == "mismatch"], suffix
        kinds[suffix] = {(c.kind, c.stated) for c in result.checks if c.status == "ok"}
    assert kinds[".docx"] == kinds[".md"]
    assert {("sum", "2.318"), ("share", "64,7%")} <= kinds[".pdf"]


def test_annotate_puts_a_word_comment_on_each_mismatching_figure(tmp_path):
    document = docx.Document()
    document.add_paragraph("BÁO CÁO THÁNG 11/2025")
    document.add_paragraph("Tiếp nhận 2.318 hồ sơ, trong đó 1.500 hồ sơ trực tuyến và 817 hồ sơ "
                           "trực tiếp.")
    document.add_paragraph("Kinh phí 407,28 tỷ đồng (gồm: A 251,2 tỷ đồng, B 155,8 tỷ đồng).")
    source = tmp_path / "du-thao.docx"
    document.save(source)
    out = tmp_path / "du-thao-chu-thich.docx"
    done = subprocess.run([nq57sync_exe(), "check-report", str(source), "--annotate", str(out),
                           "--exit-code", "--config", str(tmp_path / "khong-co.toml")],
                          capture_output=True, text=True, env=cli_env(), cwd=tmp_path, timeout=120)
    assert done.returncode == 1, done.stderr
    assert "2 sai" in done.stdout
    annotated = docx.Document(str(out))
    comments = list(annotated.comments)
    assert len(comments) == 2
    assert any("2.317" in c.text and "2.318" in c.text for c in comments)
    assert any("407,00" in c.text for c in comments)


# -- against the store ------------------------------------------------------------------------

def test_a_draft_with_two_figures_off_is_flagged_with_the_discrepancies(tmp_path, monkeypatch):
    with simulation(monkeypatch) as sim:
        ws = workspace(sim, tmp_path / "s.db")
        ws.sync(sim.period)
        result = ws.reconcile(sim.period, record=False)
        basis = result.published if result.published["left"] and result.published["right"] \
            else result.figures
        left = {m: sum(row[m] for row in basis["left"].values())
                for m in ("received_online", "received_direct", "resolved_on_time",
                          "resolved_total")}
        right_online = sum(row["received_online"] for row in basis["right"].values())
        n = vi.number
        text = "\n".join([
            f"Báo cáo tháng {sim.period.start.month}/{sim.period.start.year}",
            f"Trong kỳ tiếp nhận {n(left['received_online'])} hồ sơ trực tuyến.",
            f"Số hồ sơ tiếp nhận trực tiếp là {n(left['received_direct'] + 7)} hồ sơ.",
            f"Đã giải quyết {n(left['resolved_total'])} hồ sơ.",
            f"Giải quyết đúng hạn {n(left['resolved_on_time'] - 3)} hồ sơ.",
        ])
        draft = tmp_path / "du-thao.md"
        draft.write_text(text, encoding="utf-8")
        ws.close()
        sim.write_config(tmp_path / "nq57sync.toml", tmp_path / "s.db")
        done = subprocess.run(
            [nq57sync_exe(), "check-report", str(draft), "--format", "json", "--config",
             str(tmp_path / "nq57sync.toml")],
            capture_output=True, text=True, env=cli_env(**sim.environment()), timeout=300)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["period"]["label"] == sim.period.label
    source = [c for c in out["checks"] if c["kind"] == "source"]
    bad = sorted((c["metric"], c["stated"]) for c in source if c["status"] == "mismatch")
    assert bad == sorted([("received_direct", n(left["received_direct"] + 7)),
                          ("resolved_on_time", n(left["resolved_on_time"] - 3))])
    online = next(c for c in source if c["metric"] == "received_online")
    assert online["status"] == "ok" and online["terms"] == [n(left["received_online"]),
                                                            n(right_online)]
    if left["received_online"] != right_online:
        assert online["explained_by"] and "sai lệch" in online["message"]
    assert out["summary"]["mismatches"] == 2
