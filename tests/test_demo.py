"""The first thing a newcomer runs, and the next steps the README gives."""

import json
import re
import socket
import subprocess
import time

import docx
import httpx
import openpyxl
from conftest import nq57sync_exe

from nq57sync.reconcile import KINDS

ENV = {"PATH": "/usr/bin:/bin", "COLUMNS": "160"}


def demo(cwd, output):
    run = subprocess.run([nq57sync_exe(), "demo", "--output", output], capture_output=True,
                         text=True, timeout=300, cwd=cwd, env=ENV)
    assert run.returncode == 0, run.stderr[-2000:]
    return run.stdout


def test_demo_from_another_folder_then_serve_and_status_on_its_configuration(tmp_path):
    """A relative --output from another working directory: the store is where it is said
    to be, its configuration works for `serve` and `status`, a second run is identical."""
    elsewhere = tmp_path / "work"
    elsewhere.mkdir()
    hour = time.strftime("%Y%m%d%H")
    first = demo(elsewhere, "ket-qua/demo")
    out = elsewhere / "ket-qua" / "demo"
    assert f"Kho dữ liệu (mở bằng sqlite3 hoặc datasette): {out / 'nq57sync.db'}" in first
    assert not (out / "ket-qua").exists()
    config = out / "nq57sync.toml"
    assert f"nq57sync serve --config {config}" in first and config.is_file()

    files = {p.suffix: p for p in out.iterdir()}
    assert {".docx", ".xlsx", ".html", ".md", ".json", ".db", ".toml"} <= set(files)
    result = json.loads(files[".json"].read_text(encoding="utf-8"))
    assert set(result["summary"]["by_kind"]) == set(KINDS)
    assert result["rule_violations"]
    assert docx.Document(files[".docx"]).paragraphs
    assert openpyxl.load_workbook(files[".xlsx"]).sheetnames[0] == "Tóm tắt"

    # `status` and `serve` on the printed configuration see the demo's figures.
    status = subprocess.run([nq57sync_exe(), "status", "--json", "--config", str(config)],
                            capture_output=True, text=True, timeout=60, cwd=tmp_path, env=ENV)
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout)["open_discrepancies"]["total"] == len(
        result["discrepancies"])
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([nq57sync_exe(), "serve", "--config", str(config), "--port",
                               str(port)], cwd=tmp_path, env=ENV, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        deadline, page = time.monotonic() + 60, None
        while time.monotonic() < deadline and page is None:
            try:
                page = httpx.get(f"http://127.0.0.1:{port}/sai-lech", timeout=30)
            except httpx.TransportError:
                time.sleep(0.2)
        assert page is not None and page.status_code == 200
        total = len([d for d in result["discrepancies"] if d["state"] != "resolved"])
        shown = re.sub(r"\s+", " ", page.text)
        assert f"{total:,}".replace(",", ".") in shown
    finally:
        server.terminate()
        server.wait(timeout=30)

    # The same seed in the same hour: the same figures, from an empty store again.
    second = demo(elsewhere, "ket-qua/demo")
    if time.strftime("%Y%m%d%H") == hour:  # unless an hour began between the runs
        assert second == first
