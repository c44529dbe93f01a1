"""The first thing a newcomer runs."""

import json
import subprocess

import docx
import openpyxl
from conftest import nq57sync_exe

from nq57sync.reconcile import KINDS


def test_demo_writes_every_report_and_finds_every_kind(tmp_path):
    out = tmp_path / "demo"
    run = subprocess.run([nq57sync_exe(), "demo", "--output", str(out)], capture_output=True,
                         text=True, timeout=300, cwd=tmp_path, env={"PATH": "/usr/bin:/bin",
                                                                    "COLUMNS": "160"})
    assert run.returncode == 0, run.stderr[-2000:]
    assert "Các tệp kết quả:" in run.stdout and "sai lệch" in run.stdout
    files = {p.suffix: p for p in out.iterdir()}
    assert {".docx", ".xlsx", ".html", ".md", ".json", ".db"} <= set(files)
    result = json.loads(files[".json"].read_text(encoding="utf-8"))
    assert set(result["summary"]["by_kind"]) == set(KINDS)
    assert result["rule_violations"]
    assert docx.Document(files[".docx"]).paragraphs
    assert openpyxl.load_workbook(files[".xlsx"]).sheetnames[0] == "Tóm tắt"
