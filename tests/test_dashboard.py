"""The dashboard in headless Chromium (Debian's, driven by Playwright), over real HTTP."""

import contextlib
import shutil
import socket
import tempfile
import threading
import time
from pathlib import Path

import httpx
import pytest
import uvicorn
from sim import reconciled_simulation, simulation, workspace

from nq57sync import Config, ConfigError, vi
from nq57sync.web.app import create_app

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "build"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def reconciled(tmp_path_factory):
    folder = tmp_path_factory.mktemp("dash")
    with reconciled_simulation(folder) as (ws, result):
        config = Config.from_dict({"store": {"path": str(folder / "s.db")},
                                   "reconcile": {"left": "motcua", "right": "dvcqg"}})
        ws.close()  # the dashboard opens the store itself
        yield config, result


@contextlib.contextmanager
def serving(app):
    """The app on a free loopback port, for as long as the block runs."""
    port = free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not srv.started and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        srv.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def server(reconciled):
    config, result = reconciled
    with serving(create_app(config)) as url:
        yield url, result


@pytest.fixture(scope="module")
def browser():
    if CHROMIUM is None:
        pytest.skip("Debian chromium is installed by .ci/run")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run"])
        yield b
        b.close()


def test_overview_shows_the_figures_of_reconcile(server, browser):
    url, result = server
    BUILD.mkdir(exist_ok=True)
    page = browser.new_page(viewport={"width": 1300, "height": 1600})
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(url + "/")
    data = result.as_json()
    assert page.inner_text("#card-discrepancies b") == vi.number(data["summary"]["discrepancies"])
    agency = sorted(result.figures["left"])[0]
    for metric in ("received_total", "resolved_total", "resolved_late"):
        cell = page.inner_text(
            f"#figures tr[data-agency='{agency}'][data-view='2'] td[data-metric='{metric}']")
        assert cell == vi.number(result.figures["left"][agency][metric])
    assert page.locator(".charts svg").count() == 2
    page.screenshot(path=str(BUILD / "dashboard-overview.png"), full_page=True)
    assert errors == []


def test_filter_by_agency_and_kind_then_open_a_dossier(server, browser):
    url, result = server
    page = browser.new_page(viewport={"width": 1300, "height": 1200})
    page.goto(url + "/sai-lech")
    target = next(d for d in result.discrepancies if d.kind == "status_mismatch")
    page.select_option("#don_vi", target.agency_code)
    page.select_option("#loai", "status_mismatch")
    page.click("#loc")
    page.wait_for_load_state()
    rows = page.locator("#list tbody tr[data-kind]")
    expected = [d for d in result.discrepancies
                if d.kind == "status_mismatch" and d.agency_code == target.agency_code]
    assert rows.count() == len(expected) >= 1
    for i in range(rows.count()):
        assert rows.nth(i).get_attribute("data-kind") == "status_mismatch"
        assert rows.nth(i).get_attribute("data-agency") == target.agency_code
    page.screenshot(path=str(BUILD / "dashboard-discrepancies.png"), full_page=True)
    page.click(f"#list a:text('{target.dossier_code}')")
    page.wait_for_load_state()
    differs = page.locator("#compare tr.differs")
    assert differs.count() >= 1
    assert differs.first.get_attribute("data-field") == "status"
    assert "Đồng bộ lại trạng thái" in page.inner_text("#actions")
    page.screenshot(path=str(BUILD / "dashboard-dossier.png"), full_page=True)


def test_trends_and_sources_pages_load(server, browser):
    url, _ = server
    page = browser.new_page()
    page.goto(url + "/xu-huong")
    assert page.locator("#trend-charts svg").count() >= 2
    page.goto(url + "/nguon")
    assert "Hệ thống Một cửa điện tử" in page.inner_text("#sources")  # its display name


def test_off_loopback_needs_the_password_and_shows_nothing_without_it(reconciled, monkeypatch):
    config, _ = reconciled
    monkeypatch.delenv("NQ57SYNC_DASHBOARD_PASSWORD", raising=False)
    with pytest.raises(ConfigError, match="NQ57SYNC_DASHBOARD_PASSWORD"):
        create_app(config, host="0.0.0.0")
    monkeypatch.setenv("NQ57SYNC_DASHBOARD_PASSWORD", "mat-khau-thu")
    # Built for every interface, served here on loopback: the app itself asks.
    with serving(create_app(config, host="0.0.0.0")) as url:
        denied = httpx.get(url + "/sai-lech")
        assert denied.status_code == 401 and "sai lệch" not in denied.text.lower()
        assert httpx.get(url + "/api/phien-ban").status_code == 401
        assert httpx.get(url + "/", auth=("x", "sai")).status_code == 401
        ok = httpx.get(url + "/", auth=("canbo", "mat-khau-thu"))
        assert ok.status_code == 200 and "mat-khau-thu" not in ok.text
    with serving(create_app(config)) as url:
        assert httpx.get(url + "/").status_code == 200  # loopback: no password


def test_the_page_learns_when_a_reconciliation_lands(server, reconciled):
    from nq57sync import Workspace

    url, result = server
    config, _ = reconciled
    before = httpx.get(url + "/api/phien-ban").json()
    with Workspace(config) as ws:
        ws.reconcile(result.period)  # what the daemon does after a round of syncs
    after = httpx.get(url + "/api/phien-ban").json()
    assert after["run"] == before["run"] + 1
    assert 'fetch("/api/phien-ban"' in httpx.get(url + "/").text


def test_the_dashboard_runs_inside_the_daemon(tmp_path, monkeypatch):
    import attrs
    import httpx

    from nq57sync.daemon import Daemon

    port = free_port()
    with simulation(monkeypatch) as sim:
        ws = workspace(sim, tmp_path / "s.db")
        ws.config = attrs.evolve(
            ws.config, serve=attrs.evolve(ws.config.serve, port=port, in_daemon=True),
            schedule=attrs.evolve(ws.config.schedule, sync="interval 1d", reports=()))
        daemon = Daemon(ws, say=lambda line: None)
        daemon.start()
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/nguon").status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.1)
            page = httpx.get(f"http://127.0.0.1:{port}/nguon").text
            assert "Nguồn dữ liệu" in page and "Hệ thống Một cửa điện tử" in page
        finally:
            daemon.stop()
            ws.close()


@pytest.mark.parametrize("path, route, endpoint, expected", [
    ("/", "/", "overview", "Tổng quan"),
    ("/sai-lech?loai=missing_in_right", "/sai-lech", "discrepancies", "<th>Cổng DVCQG</th>"),
    ("/xu-huong", "/xu-huong", "trends", "<svg"),
    ("/nguon", "/nguon", "health", "Cổng Dịch vụ công quốc gia"),
    ("/api/phien-ban", "/api/phien-ban", "stamp", '"run"'),
])
def test_each_endpoint_serves_alone_from_the_app_state(reconciled, path, route, endpoint,
                                                       expected):
    """Endpoints are module-level functions reading `app.state`: one can be mounted alone."""
    from starlette.applications import Starlette
    from starlette.routing import Route

    from nq57sync.web import app as dashboard

    config, _ = reconciled
    alone = Starlette(routes=[Route(route, getattr(dashboard, endpoint))])
    alone.state.dashboard = create_app(config).state.dashboard
    with serving(alone) as url:
        answer = httpx.get(url + path, timeout=60)
    assert answer.status_code == 200, answer.text[:300]
    assert expected in answer.text


def test_a_draft_report_uploaded_is_checked_beside_its_text(server, browser, tmp_path):
    url, result = server
    left = result.figures["left"]
    direct = sum(row["received_direct"] for row in left.values())
    online = sum(row["received_online"] for row in left.values())
    n = vi.number
    draft = tmp_path / "du-thao <b>.md"
    draft.write_text("\n".join([
        f"Báo cáo tháng {result.period.start.month}/{result.period.start.year}",
        f"Tiếp nhận {n(online + direct + 5)} hồ sơ, trong đó {n(online)} hồ sơ trực tuyến và "
        f"{n(direct)} hồ sơ trực tiếp.",
        "Ghi chú: <script>alert(1)</script>",
    ]), encoding="utf-8")
    page = browser.new_page(viewport={"width": 1300, "height": 1200})
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("dialog", lambda d: errors.append("dialog: " + d.message))
    page.goto(url + "/kiem-tra-bao-cao")
    page.set_input_files("#tep", str(draft))
    page.click("#upload button")
    page.wait_for_load_state()
    assert page.inner_text("#file") == "du-thao <b>.md"          # shown as text
    assert "đọc từ báo cáo" in page.inner_text("#period")
    mismatches = page.locator("#findings tr[data-status='mismatch']")
    kinds = sorted(mismatches.nth(i).get_attribute("data-kind") for i in range(mismatches.count()))
    # The total is 5 more than its parts (and not what the systems hold either, unless by chance).
    assert "sum" in kinds and set(kinds) <= {"sum", "source"}
    assert page.inner_text("#mismatches") == str(len(kinds))
    assert page.locator("#findings tr[data-kind='source']").count() >= 2  # against both systems
    assert page.get_attribute("#dong-2", "class") == "line-mismatch"
    assert "<script>alert(1)</script>" in page.inner_text("#dong-3")
    page.screenshot(path=str(BUILD / "dashboard-check-report.png"), full_page=True)
    assert errors == []


def test_the_upload_refuses_what_it_cannot_read_and_keeps_nothing(server, tmp_path):
    url, _ = server
    before = set(Path(tempfile.gettempdir()).glob("nq57sync-check-*"))
    wrong = httpx.post(url + "/kiem-tra-bao-cao", files={"tep": ("bao-cao.exe", b"MZ")})
    assert wrong.status_code == 400 and "đuôi “.exe”" in wrong.text
    from nq57sync.web.app import MAX_UPLOAD

    huge = httpx.post(url + "/kiem-tra-bao-cao",
                      files={"tep": ("bao-cao.txt", b"1" * (MAX_UPLOAD + 100_000))})
    assert huge.status_code == 400 and "MB" in huge.text
    broken = httpx.post(url + "/kiem-tra-bao-cao", files={"tep": ("bao-cao.docx", b"PK\x03\x04")})
    assert broken.status_code == 400 and "bao-cao.docx" in broken.text
    cross = httpx.post(url + "/kiem-tra-bao-cao", files={"tep": ("a.txt", b"x")},
                       headers={"Origin": "http://evil.example"})
    assert cross.status_code == 403
    sneaky = httpx.post(url + "/kiem-tra-bao-cao", files={"tep": ("a.txt", b"x")},
                        headers={"Origin": "null", "Sec-Fetch-Site": "cross-site"})
    assert sneaky.status_code == 403
    assert set(Path(tempfile.gettempdir()).glob("nq57sync-check-*")) == before
