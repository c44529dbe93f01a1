"""The check-report corpus is sound on its own: every truth file matches its document.

These tests do not run nq57sync's checker. They hold the corpus itself to account:
the excerpts are where the truth says, the verdicts agree with the arithmetic redone
from the printed figures, and the generated Word/PDF reports rebuild byte for byte.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

CORPUS = Path(__file__).resolve().parent / "corpus"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"corpus_{name}", CORPUS / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


check_truth = _load("check_truth")
TRUTHS = sorted(CORPUS.glob("*.truth.json"))
DOCUMENTS = sorted(p for p in CORPUS.iterdir() if p.suffix in {".txt", ".docx", ".pdf"})


def test_every_document_has_one_truth_file():
    named = {json.loads(t.read_text(encoding="utf-8"))["document"] for t in TRUTHS}
    assert named == {p.name for p in DOCUMENTS}
    assert len(TRUTHS) == len(DOCUMENTS) >= 9
    kinds = {p.suffix for p in DOCUMENTS}
    assert kinds == {".txt", ".docx", ".pdf"}


@pytest.mark.parametrize("truth", TRUTHS, ids=lambda p: p.name)
def test_truth_agrees_with_document_and_arithmetic(truth: Path):
    assert check_truth.check(truth) == []


@pytest.mark.parametrize("truth", TRUTHS, ids=lambda p: p.name)
def test_truth_shape(truth: Path):
    t = json.loads(truth.read_text(encoding="utf-8"))
    assert set(t) >= {"document", "period", "claims", "not_claims"}
    if t["period"] is not None:
        assert set(t["period"]) == {"from", "to"}
    for c in t["claims"]:
        assert c["kind"] in check_truth.KINDS
        assert c["consistent"] in (True, False, "unclear")
        assert c["text"] and c["note"]
        assert "line" in c["where"] or "paragraph" in c["where"] or "table" in c["where"]
    for n in t["not_claims"]:
        assert n["text"] and n["why"]


def test_planted_errors_are_marked():
    """Each generated report carries the errors the README lists, and no others."""
    wrong = {}
    for truth in TRUTHS:
        t = json.loads(truth.read_text(encoding="utf-8"))
        wrong[t["document"]] = sorted(c["kind"] for c in t["claims"] if c["consistent"] is False)
    assert wrong["phuong-an-bien-thang-11-2025.docx"] == ["sum"]
    assert wrong["xa-kien-thuy-quy-4-2025.docx"] == ["status"]
    assert wrong["phuong-hong-bang-nam-2025.docx"] == ["repeat", "share"]
    assert wrong["xa-tien-lang-thang-11-2025.pdf"] == ["share"]
    assert wrong["ocr-xa-an-lao-thang-10-2025.txt"] == ["sum"]
    assert wrong["ocr-phuong-do-son-quy-3-2025.txt"] == []


def test_generator_rebuilds_the_committed_files(tmp_path: Path):
    make_corpus = _load("make_corpus")
    for built in make_corpus.build(tmp_path):
        assert built.read_bytes() == (CORPUS / built.name).read_bytes(), built.name


score = _load("score")


def _as_findings(t: dict) -> list[dict]:
    return [{k: c[k] for k in ("kind", "where", "figures", "consistent")} for c in t["claims"]]


@pytest.mark.parametrize("truth", TRUTHS, ids=lambda p: p.name)
def test_truth_scores_itself_perfectly(truth: Path):
    t = json.loads(truth.read_text(encoding="utf-8"))
    result = score.score(t, _as_findings(t))
    assert result["false_alarms"] == []
    for kind, r in result["kinds"].items():
        assert (r["precision"], r["recall"]) == (1.0, 1.0), kind


def test_score_counts_a_miss_a_false_alarm_and_an_accepted_kind():
    t = json.loads((CORPUS / "xa-kien-thuy-quy-4-2025.truth.json").read_text(encoding="utf-8"))
    findings = _as_findings(t)
    # the Giai đoạn 2 status reported as a sum 08 = 05 + 03 is the same claim
    g2 = next(f for f in findings if f["kind"] == "status" and f["figures"]["assigned"] == "08")
    g2.update(kind="sum", figures={"total": "8", "parts": ["3", "5"]})
    assert score.score(t, findings)["kinds"]["sum"]["precision"] == 1.0
    # missing the Giai đoạn 1 status lowers recall; calling a consistent sum wrong is a false alarm
    findings = [f for f in findings if not (f["kind"] == "status" and f["consistent"] is False)]
    first_sum = next(f for f in findings if f["kind"] == "sum" and f["consistent"] is True)
    first_sum["consistent"] = False
    result = score.score(t, findings)
    assert result["kinds"]["status"]["recall"] == 0.5  # Giai đoạn 2 found (as a sum), Giai đoạn 1 missed
    assert result["kinds"]["status"]["missed"] == 1
    assert result["false_alarms"] == [first_sum]
    # a flag where the truth has no claim at all (the month inside the quarter) is a false alarm too
    month = {"kind": "repeat", "where": {"paragraph": 6}, "consistent": False,
             "figures": {"values": ["1.204", "3.615"], "where_else": {"paragraph": 4}}}
    assert month in score.score(t, [month])["false_alarms"]
