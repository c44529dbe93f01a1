"""Hostile data and careless operators: every defect of issue 13, each with its test.

The dashboard is served over real HTTP on loopback; reports are opened with
their own libraries; the store is a real SQLite file.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import io
import json
import logging
import random
import signal
import subprocess
import tempfile
import time
import urllib.parse
import zipfile
from pathlib import Path

import docx
import httpx
import lxml.html
import openpyxl
import pytest
from conftest import nq57sync_exe
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sim import simulation, workspace
from test_dashboard import serving

from nq57sync import Config, ConfigError, DataError, Period
from nq57sync.http import UnexpectedAnswer, decode_json
from nq57sync.model import VN_TZ, Agency, Dossier, Procedure
from nq57sync.reconcile_view import render_csv
from nq57sync.text import csv_safe, printable
from nq57sync.web.app import create_app, is_loopback
from nq57sync.wire import count
from nq57sync.workspace import Workspace
from nq57sync_storage import Store

NOV = Period.parse("2025-11")
HOSTILE = '<script>alert(1)</script>"><img src=x onerror=alert(2)>=HYPERLINK("http://x")'


def hostile_store(path: Path, text: str, prefix: str = "X") -> tuple[Config, str]:
    """Both sides in a store, a dossier whose code, agency and procedure carry `text`.

    The dossier's status differs between the sides, and a second one is missing on the
    right, so both appear as discrepancies everywhere.
    """
    for stale in path.parent.glob(path.name + "*"):
        stale.unlink()
    code = prefix + text
    received = dt.datetime(2025, 11, 12, 9, tzinfo=VN_TZ)

    def dossier(c: str, status: int) -> Dossier:
        return Dossier(code=c, agency=Agency("A" + text, "UBND " + text),
                       procedure=Procedure("P" + text, "Thủ tục " + text), channel=2,
                       status=status, received_at=received,
                       due_at=received + dt.timedelta(days=3), raw={"note": text})

    with Store(path) as store:
        for source, dossiers in (("motcua", [dossier(code, 10), dossier(code + "2", 4)]),
                                 ("dvcqg", [dossier(code, 4)])):
            with store.begin_snapshot(source=source, plugin="test", period=NOV) as writer:
                writer.add_dossiers(dossiers)
    config = Config.from_dict({"store": {"path": str(path)},
                               "reconcile": {"left": "motcua", "right": "dvcqg"}})
    with Workspace(config) as ws:
        ws.reconcile(NOV)
    return config, printable(code)


@pytest.fixture(scope="module")
def board(tmp_path_factory):
    """One dashboard over a store file the tests rewrite between examples."""
    folder = tmp_path_factory.mktemp("board")
    config, _ = hostile_store(folder / "s.db", "init")
    with serving(create_app(config)) as url:
        yield folder / "s.db", url


def _same(text: str) -> str:
    """Text as a document shows it: line breaks and runs of white space are rendering."""
    return " ".join(text.split())


TEXTS = st.one_of(
    st.text(st.one_of(st.sampled_from(list("<>\"'&=+-@\t\r\n\x00\x01\x1f|\\/?#%")),
                      st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF),
                      st.characters()), min_size=1, max_size=40),
    st.just("=cmd|' /C calc'!A0 " + "đ" * 10_000),
    st.just(HOSTILE),
)


@settings(max_examples=8, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                  HealthCheck.too_slow])
@given(text=TEXTS)
def test_any_source_text_is_escaped_on_every_page_and_the_same_in_every_report(board, text,
                                                                                tmp_path):
    store, url = board
    config, code = hostile_store(store, text)
    shown = printable(text)
    pages = ["/", "/sai-lech?tinh_trang=", f"/ho-so/{urllib.parse.quote(code, safe='')}",
             "/xu-huong", "/nguon"]
    with httpx.Client(base_url=url, timeout=60) as client:
        for page in pages:
            answer = client.get(page)
            assert answer.status_code == 200, (page, answer.text[:300])
            body = answer.text
            # Only the page's own script runs, and the source's text is text.
            assert body.count("<script") == 1 and "onerror=alert" not in body.replace(
                "onerror=alert(2)&gt;", "")
            if "<" in code:  # the code is the text behind a prefix no page writes itself
                assert code not in body
        dossier_page = client.get(pages[2]).text
        assert _same(shown) in _same(lxml.html.fromstring(dossier_page).text_content())

    with Workspace(config) as ws:
        result = ws.reconcile(NOV, record=False)
        for fmt in ("docx", "xlsx", "html", "md"):
            ws.report(result, tmp_path / f"r.{fmt}")
    document = docx.Document(tmp_path / "r.docx")
    words = [p.text for p in document.paragraphs] + [
        c.text for t in document.tables for r in t.rows for c in r.cells]
    assert any(_same(code) in _same(w) for w in words)
    book = openpyxl.load_workbook(tmp_path / "r.xlsx")
    cells = [c for s in book.worksheets for r in s.iter_rows() for c in r if c.value is not None]
    assert not [c for c in cells if c.data_type == "f"]  # never a live formula
    assert any(isinstance(c.value, str) and _same(code) in _same(c.value) for c in cells)
    html_text = lxml.html.fromstring((tmp_path / "r.html").read_bytes())
    assert not html_text.xpath("//script") and not html_text.xpath("//*[@onerror]")
    assert _same(code) in _same(html_text.text_content())
    markdown = (tmp_path / "r.md").read_text(encoding="utf-8")
    assert _same(code.replace("|", "\\|")) in _same(markdown)


def test_crafted_links_are_escaped(board):
    _, url = board
    with httpx.Client(base_url=url, timeout=60) as client:
        for link in ("/?ky=<script>alert(1)</script>", '/sai-lech?thu_tuc="><script>x()</script>',
                     "/ho-so/%3Cscript%3Ealert(1)%3C%2Fscript%3E"):
            body = client.get(link).text
            assert body.count("<script") == 1, link
            assert "&lt;script&gt;" in body, link


def test_security_headers_and_a_nonce_for_the_one_script(board):
    _, url = board
    answer = httpx.get(url + "/", timeout=60)
    policy = answer.headers["content-security-policy"]
    nonce = policy.split("'nonce-")[1].split("'")[0]
    assert f'<script nonce="{nonce}">' in answer.text
    assert "frame-ancestors 'none'" in policy and "object-src 'none'" in policy
    assert answer.headers["x-frame-options"] == "DENY"
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["referrer-policy"] == "no-referrer"
    assert httpx.get(url + "/", timeout=60).headers["content-security-policy"] != policy


def test_only_the_names_it_is_served_as_are_answered(board):
    _, url = board
    port = url.rsplit(":", 1)[1]
    for host, status in ((f"127.0.0.1:{port}", 200), (f"localhost:{port}", 200),
                         (f"[::1]:{port}", 200), ("evil.example", 400),
                         (f"attacker.test:{port}", 400)):
        assert httpx.get(url + "/", headers={"Host": host}, timeout=60).status_code == status


def test_every_interface_is_not_loopback_and_needs_the_password(tmp_path, monkeypatch):
    assert not is_loopback("") and not is_loopback("0.0.0.0") and not is_loopback("::")
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    monkeypatch.delenv("NQ57SYNC_DASHBOARD_PASSWORD", raising=False)
    config = Config.from_dict({"store": {"path": str(tmp_path / "s.db")}})
    for host in ("", "0.0.0.0"):
        with pytest.raises(ConfigError, match="cần mật khẩu"):
            create_app(config, host=host)


def test_password_failures_are_logged_without_the_guess(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("NQ57SYNC_DASHBOARD_PASSWORD", "the-right-one")
    config, _ = hostile_store(tmp_path / "s.db", "p")
    with serving(create_app(config, host="0.0.0.0")) as url, \
            caplog.at_level(logging.WARNING, logger="nq57sync.web"):
        for _ in range(5):
            answer = httpx.get(url + "/", auth=("x", "guess-hunter2"), timeout=60)
            assert answer.status_code == 401
        assert httpx.get(url + "/", auth=("x", "the-right-one"), timeout=60).status_code == 200
    failures = [r.getMessage() for r in caplog.records if "sai mật khẩu" in r.getMessage()]
    assert len(failures) == 5 and "lần 5 liên tiếp" in failures[-1]
    assert not any("hunter2" in m for m in failures)


def test_a_password_put_where_its_variable_name_goes_is_never_echoed(tmp_path):
    for table in ({"serve": {"password_env": "Mật khẩu: s3cret!"}},
                  {"alerts": {"smtp_password_env": "s3cret pass"}}):
        with pytest.raises(ConfigError) as info:
            Config.from_dict({"store": {"path": str(tmp_path / "s.db")}, **table})
        assert "s3cret" not in str(info.value) and "tên một biến môi trường" in str(info.value)


def test_paging_parameters_from_a_link_are_checked(board):
    _, url = board
    assert httpx.get(url + "/sai-lech?trang=abc", timeout=60).status_code == 400
    assert httpx.get(url + "/sai-lech?trang=999999999", timeout=60).status_code == 200
    assert httpx.get(url + "/sai-lech?trang=" + "9" * 40, timeout=60).status_code == 400


def test_a_report_download_writes_nothing_and_leaves_nothing(board):
    store, url = board
    hostile_store(store, "dl")

    def state():
        with contextlib.closing(__import__("sqlite3").connect(store)) as conn:
            return (conn.execute("SELECT count(*) FROM reconcile_runs").fetchone(),
                    conn.execute("SELECT id, state, last_run FROM discrepancies ORDER BY id")
                    .fetchall())

    before = state()
    leftovers = set(Path(tempfile.gettempdir()).glob("nq57sync-report-*"))
    for fmt in ("docx", "xlsx"):
        answer = httpx.get(url + f"/bao-cao/{fmt}", timeout=120)
        assert answer.status_code == 200 and len(answer.content) > 1000
    assert state() == before
    time.sleep(0.5)  # the clean-up runs after the answer is sent
    assert set(Path(tempfile.gettempdir()).glob("nq57sync-report-*")) <= leftovers


def test_csv_and_xlsx_never_carry_a_live_formula(tmp_path):
    for value, expected in (("=HYPERLINK(\"x\")", "'=HYPERLINK(\"x\")"), ("+1+2", "'+1+2"),
                            ("@SUM(A1)", "'@SUM(A1)"), ("\tx", "'\tx"), ("-5", "-5"),
                            ("-1,5x", "'-1,5x"), ("12", "12"), ("an toàn", "an toàn")):
        assert csv_safe(value) == expected
    config, _ = hostile_store(tmp_path / "s.db", "=cmd|' /C calc'!A0", prefix="")
    with Workspace(config) as ws:
        result = ws.reconcile(NOV, record=False)
    rows = list(csv.DictReader(io.StringIO(render_csv(result, ("id", "dossier_code")))))
    assert rows and all(r["dossier_code"].startswith("'=") for r in rows)


def test_killing_report_never_damages_the_good_file(tmp_path, monkeypatch):
    """SIGKILL at random moments of `nq57sync report`: the previous report stays whole."""
    with simulation(monkeypatch) as sim:
        config = sim.write_config(tmp_path / "nq57sync.toml", "s.db")
        ws = workspace(sim, tmp_path / "s.db")
        ws.sync(sim.period)
        ws.reconcile(sim.period)
        ws.close()
        env = {**__import__("os").environ, **sim.environment()}
        args = [nq57sync_exe(), "report", "--period", sim.period.label, "--output",
                "bao-cao.docx", "--config", config.name]
        subprocess.run(args, cwd=tmp_path, env=env, check=True, capture_output=True, timeout=120)
        good = (tmp_path / "bao-cao.docx").read_bytes()
        rng = random.Random(7)
        for _ in range(6):
            proc = subprocess.Popen(args, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL)
            time.sleep(rng.uniform(0.3, 3.0))
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=60)
            document = docx.Document(tmp_path / "bao-cao.docx")  # opens: not damaged
            assert any("BÁO CÁO" in p.text for p in document.paragraphs)
        assert (tmp_path / "bao-cao.docx").stat().st_size > len(good) // 2


# -- bad data ---------------------------------------------------------------------

def _export(tmp_path: Path, rows: list[str], name: str = "x.csv", encoding: str = "utf-8"):
    header = "Mã hồ sơ;Mã đơn vị;Kênh tiếp nhận;Trạng thái;Ngày tiếp nhận;Ngày hẹn trả"
    path = tmp_path / name
    text = "\n".join([header, *rows])
    path.write_bytes(_cp1258(text) if encoding == "cp1258" else text.encode(encoding))
    return path


def _cp1258(text: str) -> bytes:
    """As Windows-1258 writes Vietnamese: a base letter (â, ư …) and a combining tone mark."""
    import unicodedata

    tones = "\u0300\u0301\u0303\u0309\u0323"
    out = []
    for ch in text:
        marks = unicodedata.normalize("NFD", ch)
        base = unicodedata.normalize("NFC", "".join(m for m in marks if m not in tones))
        out.append((base + "".join(m for m in marks if m in tones)).encode("cp1258"))
    return b"".join(out)


@pytest.fixture
def files_ws(tmp_path, monkeypatch):
    with simulation(monkeypatch) as sim:
        yield workspace(sim, tmp_path / "s.db")


@pytest.mark.parametrize(("cell", "words"), [
    ("05/10/2099 08:00", "dòng 3: ngày 05/10/2099 nằm ngoài khoảng hợp lý"),
    ("31/12/9999 08:00", "dòng 3: ngày 31/12/9999 nằm ngoài khoảng hợp lý"),
    ("01/01/1999 08:00", "dòng 3: ngày 01/01/1999 nằm ngoài khoảng hợp lý"),
])
def test_a_mistyped_year_is_a_data_error_naming_the_row(files_ws, tmp_path, cell, words):
    path = _export(tmp_path, ["A-1;001;Trực tuyến;Đang xử lý;03/11/2025 08:00;",
                              f"A-2;001;Trực tuyến;Đang xử lý;{cell};"])
    with pytest.raises(DataError, match=words):
        files_ws.import_file("dvcqg", path)
    assert files_ws.store.snapshots() == []


def test_an_outlier_never_widens_the_period_nor_retires_the_month(files_ws, tmp_path):
    good = [f"A-{i};001;Trực tuyến;Đang xử lý;{3 + i:02d}/11/2025 08:00;" for i in range(10)]
    first = files_ws.import_file("dvcqg", _export(tmp_path, good)).snapshot
    assert first.period.label == "2025-11"
    # A file of December with one mistyped November date: stated period December.
    december = ["B-1;001;Trực tuyến;Đang xử lý;02/12/2025 08:00;",
                "B-2;001;Trực tuyến;Đang xử lý;04/11/2025 08:00;"]
    done = files_ws.import_file("dvcqg", _export(tmp_path, december, "d.csv"),
                                Period.parse("2025-12"))
    assert done.outside == ("B-2",)
    current = {d.code for d in files_ws.store.dossiers_as_of(done.snapshot.id, within_scope=False)}
    assert {f"A-{i}" for i in range(10)} <= current   # November's dossiers are not retired


def test_duplicates_and_encodings_are_said(files_ws, tmp_path):
    rows = ["A-1;001;Trực tuyến;Đang xử lý;03/11/2025 08:00;",
            "A-1;001;Trực tuyến;Đã trả kết quả;03/11/2025 08:00;",
            "A-2;001;Trực tiếp;Đang xử lý;04/11/2025 08:00;"]
    done = files_ws.import_file("dvcqg", _export(tmp_path, rows, "w.csv", "cp1258"))
    assert done.duplicates == ("A-1",) and done.snapshot.dossier_count == 2
    assert any("xuất hiện nhiều lần" in n for n in done.notes_vi())
    kept = {d.code: d for d in files_ws.store.dossiers_as_of(done.snapshot.id)}
    assert kept["A-1"].status_raw == "Đã trả kết quả"   # the last row wins, read as cp1258


@pytest.mark.parametrize("content", [
    b"PK\x03\x04" + bytes(200),
    "zip-with-bad-xml",
])
def test_a_broken_or_malicious_xlsx_is_a_data_error(files_ws, tmp_path, content):
    path = tmp_path / "bad.xlsx"
    if content == "zip-with-bad-xml":
        with zipfile.ZipFile(path, "w") as z:
            z.writestr("[Content_Types].xml", "<?xml version='1.0'?><Types><unclosed>")
            z.writestr("xl/workbook.xml", "<!DOCTYPE x [<!ENTITY a 'aaaa'>]><x>&a;&a;</x>")
    else:
        path.write_bytes(content)
    with pytest.raises(DataError, match=r"không phải tệp \.xlsx hợp lệ"):
        files_ws.import_file("dvcqg", path)


def test_counts_out_of_range_and_deep_json_are_data_errors():
    for value in ("-3", -3, "9" * 30, 10**40):
        with pytest.raises(DataError):
            count(value, "TONG_NHAN")
    deep = httpx.Response(200, text="[" * 100_000 + "]" * 100_000)
    with pytest.raises(UnexpectedAnswer):
        decode_json(deep)


def test_an_answer_over_the_size_limit_is_refused(tmp_path, monkeypatch):
    with simulation(monkeypatch) as sim:
        ws = workspace(sim, tmp_path / "s.db", max_response_mb=0.005)
        with pytest.raises(DataError, match="lớn hơn giới hạn"):
            ws.sync(sim.period, "dvcqg")
        assert [s.state for s in ws.store.snapshots()] == ["failed"]


def test_a_lone_surrogate_or_control_character_is_stored_and_read_back(tmp_path):
    _, code = hostile_store(tmp_path / "s.db", "a\ud800b\x01c")
    assert code == "Xa\ufffdb\ufffdc"
    with Store(tmp_path / "s.db") as store:
        codes = {d.code for d in store.dossiers_as_of(store.snapshots("motcua")[0].id)}
        assert code in codes


def test_doctor_removes_what_killed_reconciliations_left(tmp_path):
    hostile_store(tmp_path / "s.db", "d")
    leftover = Path(tempfile.gettempdir()) / "nq57sync-reconcile-999999999-test"
    leftover.mkdir(exist_ok=True)
    (leftover / "rec_l.db").write_bytes(b"x" * 100)
    (tmp_path / "nq57sync.toml").write_text(
        f'[store]\npath = "{tmp_path / "s.db"}"\n', encoding="utf-8")
    out = subprocess.run([nq57sync_exe(), "doctor", "--json"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=60)
    report = json.loads(out.stdout)
    check = next(c for c in report["checks"] if c["name"] == "scratch")
    assert "nq57sync-reconcile-999999999-test" in check["detail"]
    assert not leftover.exists()


def test_the_dashboard_serves_https_with_the_configured_certificate(tmp_path, monkeypatch):
    import os
    import shutil as sh
    import socket

    if not sh.which("openssl"):
        pytest.skip("openssl is not installed")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=localhost", "-keyout", str(tmp_path / "key.pem"),
                    "-out", str(tmp_path / "cert.pem")], check=True, capture_output=True)
    hostile_store(tmp_path / "s.db", "tls")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    (tmp_path / "nq57sync.toml").write_text(
        f'[store]\npath = "s.db"\n[serve]\nport = {port}\ntls_cert = "cert.pem"\n'
        'tls_key = "key.pem"\n', encoding="utf-8")
    server = subprocess.Popen([nq57sync_exe(), "serve"], cwd=tmp_path, env=dict(os.environ),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    import ssl

    trust = ssl.create_default_context(cafile=str(tmp_path / "cert.pem"))
    trust.check_hostname = False  # the test certificate names localhost, not 127.0.0.1
    try:
        deadline, answer = time.monotonic() + 60, None
        while time.monotonic() < deadline and answer is None:
            try:
                answer = httpx.get(f"https://127.0.0.1:{port}/", verify=trust, timeout=30)
            except httpx.TransportError:
                time.sleep(0.2)
        assert answer is not None and answer.status_code == 200
        with pytest.raises(httpx.TransportError):
            httpx.get(f"http://127.0.0.1:{port}/", timeout=10).raise_for_status()
    finally:
        server.terminate()
        server.wait(timeout=30)


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20)


@given(st.dictionaries(st.text(), _JSON, max_size=6))
@settings(max_examples=200)
def test_json_written_in_pieces_reads_back_as_the_same_data(data):
    from nq57sync.files import json_chunks

    assert json.loads("".join(json_chunks(data))) == data
