"""The daemon against the simulators on a schedule compressed to seconds."""

import datetime as dt
import json
import os
import signal
import sqlite3
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from conftest import nq57sync_exe
from sim import simulation

from nq57sync.daemon import in_quiet_hours, make_trigger
from nq57sync.model import VN_TZ
from nq57sync.simulators import Faults


class Webhook:
    """A loopback endpoint that keeps every alert posted to it."""

    def __init__(self) -> None:
        self.alerts: list[dict] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                owner.alerts.append(json.loads(body))
                self.send_response(204)
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/alerts"

    def kinds(self):
        return [a["kind"] for a in self.alerts]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def toml_value(value):
    return json.dumps(str(value) if not isinstance(value, (int, float, bool, list)) else value)


def write_config(sim, folder, webhook_url):
    config = sim.config(folder / "s.db", motcua={"page_size": 25}, dvcqg={"page_size": 25})
    lines = ["[store]", f"path = {toml_value(folder / 's.db')}", "[reconcile]",
             'left = "motcua"', 'right = "dvcqg"', "[schedule]", 'sync = "interval 2s"',
             'reports = ["interval 4s"]', f'periods = ["{sim.period.label}"]',
             'report_formats = ["md", "xlsx"]', f"report_dir = {toml_value(folder / 'bao-cao')}",
             "jitter_seconds = 0", "min_budget_left = 0", "[alerts]",
             f"webhook_url = {toml_value(webhook_url)}", "source_failures = 2"]
    for source in config["source"]:
        lines.append("[[source]]")
        lines += [f"{k} = {toml_value(v)}" for k, v in source.items()]
    path = folder / "nq57sync.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def start_daemon(folder, env):
    out = (folder / "daemon.out").open("a", encoding="utf-8")
    return subprocess.Popen([nq57sync_exe(), "daemon", "--log-file", str(folder / "daemon.log")],
                            cwd=folder, env=env, stdout=out, stderr=out, text=True)


def wait_for(predicate, seconds=90, what="condition"):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def query(folder, sql):
    with sqlite3.connect(folder / "s.db", timeout=30) as conn:
        return conn.execute(sql).fetchall()


def test_triggers_and_quiet_hours():
    assert make_trigger("interval 90s", 0).interval.total_seconds() == 90
    assert str(make_trigger("cron 0 7 * * mon", 60).fields[4]) == "mon"
    night = dt.datetime(2026, 11, 23, 23, 30, tzinfo=VN_TZ)
    assert in_quiet_hours("22:00-05:00", night) == dt.datetime(2026, 11, 24, 5, 0, tzinfo=VN_TZ)
    assert in_quiet_hours("22:00-05:00", night.replace(hour=12)) is None
    assert in_quiet_hours("07:00-17:30", night.replace(hour=8)) == night.replace(hour=17, minute=30)


def test_daemon_syncs_reconciles_reports_alerts_stops_cleanly_and_catches_up(tmp_path,
                                                                             monkeypatch):
    hook = Webhook()
    with simulation(monkeypatch, as_of=None) as sim:
        config = write_config(sim, tmp_path, hook.url)
        env = {**os.environ, **sim.environment(), "NQ57SYNC_CONFIG": str(config)}
        proc = start_daemon(tmp_path, env)
        try:
            wait_for(lambda: "report" in hook.kinds(), what="a report alert")
            kinds = hook.kinds()
            assert kinds.index("new_discrepancies") < kinds.index("report")
            report = next(a for a in hook.alerts if a["kind"] == "report")
            assert all((tmp_path / "bao-cao" / os.path.basename(f)).exists()
                       for f in report["data"]["files"])
            jobs = dict(query(tmp_path, "SELECT job_id, last_status FROM daemon_jobs"))
            assert jobs["sync:motcua"] == jobs["sync:dvcqg"] == jobs["reconcile"] == "ok"

            # Slow the one-stop system down and stop the daemon in the middle of a pull.
            sim.motcua.faults = Faults(latency=0.25)
            wait_for(lambda: query(tmp_path, "SELECT id FROM snapshots WHERE state = 'running'"),
                     what="a pull in flight")
            versions = query(tmp_path, "SELECT count(*) FROM dossier_versions")
            proc.send_signal(signal.SIGTERM)
            try:
                code = proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.send_signal(signal.SIGUSR1)
                time.sleep(2)
                raise AssertionError((tmp_path / "daemon.out").read_text()[-6000:]) from None
            assert code == 0
            assert query(tmp_path, "SELECT count(*) FROM snapshots WHERE state = 'running'") == [(0,)]
            assert query(tmp_path, "SELECT count(*) FROM dossier_versions") == versions
            assert query(tmp_path, "PRAGMA integrity_check") == [("ok",)]
            last = query(tmp_path, "SELECT state, error FROM snapshots ORDER BY id DESC LIMIT 1")[0]
            assert last[0] == "failed" and "dừng theo yêu cầu" in last[1]

            # Restarted, it catches up at once on the runs it missed.
            sim.motcua.faults = Faults()
            before = query(tmp_path, "SELECT max(id) FROM snapshots WHERE state = 'complete'")[0][0]
            proc = start_daemon(tmp_path, env)
            wait_for(lambda: query(
                tmp_path, f"SELECT 1 FROM snapshots WHERE state = 'complete' AND id > {before}"),
                seconds=60, what="a catch-up sync")
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                proc.wait(timeout=60)
            hook.close()


def test_a_second_daemon_on_the_same_store_refuses(tmp_path, monkeypatch):
    hook = Webhook()
    with simulation(monkeypatch) as sim:
        write_config(sim, tmp_path, hook.url)
        env = {**os.environ, **sim.environment()}
        first = start_daemon(tmp_path, env)
        try:
            lock = tmp_path / "s.db.daemon.lock"
            wait_for(lambda: lock.exists() and lock.read_text().strip(), what="the store lock")
            second = subprocess.run([nq57sync_exe(), "daemon"], cwd=tmp_path, env=env,
                                    capture_output=True, text=True, timeout=60)
            assert second.returncode == 2
            assert f"PID {first.pid}" in second.stderr and "mỗi kho chỉ chạy một daemon" in second.stderr
        finally:
            first.send_signal(signal.SIGTERM)
            assert first.wait(timeout=60) == 0
            hook.close()


def test_status_reports_jobs_sources_and_open_discrepancies(tmp_path, monkeypatch):
    hook = Webhook()
    with simulation(monkeypatch, as_of=None) as sim:
        write_config(sim, tmp_path, hook.url)
        env = {**os.environ, **sim.environment()}
        proc = start_daemon(tmp_path, env)
        try:
            wait_for(lambda: "new_discrepancies" in hook.kinds(), what="a reconciliation")
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=60)
            hook.close()
        out = subprocess.run([nq57sync_exe(), "status", "--json"], cwd=tmp_path, env=env,
                             capture_output=True, text=True, timeout=60)
        info = json.loads(out.stdout)
        assert {j["job"] for j in info["jobs"]} >= {"sync:motcua", "sync:dvcqg", "reconcile"}
        assert info["open_discrepancies"]["total"] > 0
        assert {s["source"] for s in info["sources"]} == {"motcua", "dvcqg"}
        table = subprocess.run([nq57sync_exe(), "status"], cwd=tmp_path, env={**env, "COLUMNS": "200"},
                               capture_output=True, text=True, timeout=60).stdout
        assert "Các việc theo lịch" in table and "Sai lệch đang mở" in table


@pytest.mark.parametrize("text", ['sync = "every 5 minutes"', 'quiet_hours = "late"',
                                  'report_formats = ["pdf"]'])
def test_schedule_errors_name_the_key(tmp_path, text):
    from nq57sync import Config, ConfigError

    path = tmp_path / "nq57sync.toml"
    path.write_text(f"[schedule]\n{text}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="schedule"):
        Config.load(path)


class FakeSmtp:
    """Just enough SMTP (RFC 5321, no TLS) on loopback to receive one message."""

    def __init__(self) -> None:
        import socketserver

        self.messages: list[str] = []
        owner = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self):
                self.wfile.write(b"220 localhost ESMTP\r\n")
                data = None
                for raw in self.rfile:
                    line = raw.decode("utf-8", "replace")
                    if data is not None:
                        if line.rstrip("\r\n") == ".":
                            owner.messages.append("".join(data))
                            data = None
                            self.wfile.write(b"250 OK\r\n")
                        else:
                            data.append(line)
                        continue
                    verb = line[:4].upper()
                    if verb == "EHLO":
                        self.wfile.write(b"250-localhost\r\n250 8BITMIME\r\n")
                    elif verb == "DATA":
                        data = []
                        self.wfile.write(b"354 go ahead\r\n")
                    elif verb == "QUIT":
                        self.wfile.write(b"221 bye\r\n")
                        return
                    else:
                        self.wfile.write(b"250 OK\r\n")

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.port = self.server.server_address[1]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def test_alert_channels_deliver_by_webhook_and_email_without_secrets(tmp_path, monkeypatch):
    from nq57sync import Config
    from nq57sync.alerts import channels, make_alert, send

    hook, smtp = Webhook(), FakeSmtp()
    try:
        config = Config.from_dict({"alerts": {
            "webhook_url": hook.url, "smtp_host": "127.0.0.1", "smtp_port": smtp.port,
            "smtp_starttls": False, "smtp_from": "nq57sync@xa.example.vn",
            "smtp_to": ["trungtam@xa.example.vn"]}})
        report = tmp_path / "bao-cao.md"
        report.write_text("# BÁO CÁO", encoding="utf-8")
        alert = make_alert("report", "Đã lập báo cáo đối chiếu", "Báo cáo: bao-cao.md",
                           attachment=report)
        assert send(alert, channels(config)) == []
        assert hook.alerts[0]["title"] == "Đã lập báo cáo đối chiếu"
        assert hook.alerts[0]["attachment"] == str(report)
        message = smtp.messages[0]
        assert "trungtam@xa.example.vn" in message and 'filename="bao-cao.md"' in message
        # A channel that cannot deliver is reported, not raised.
        broken = Config.from_dict({"alerts": {"webhook_url": "http://127.0.0.1:9/"}})
        assert send(alert, channels(broken)) == ["webhook"]
    finally:
        hook.close()
        smtp.close()


def test_healthz_serves_the_status_as_json(tmp_path, monkeypatch):
    import socket

    import httpx
    from sim import workspace

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with simulation(monkeypatch) as sim:
        from nq57sync.daemon import Daemon

        ws = workspace(sim, tmp_path / "s.db")
        config = ws.config
        import attrs

        ws.config = attrs.evolve(config, schedule=attrs.evolve(
            config.schedule, status_port=port, sync="interval 1d", reports=()))
        daemon = Daemon(ws, say=lambda line: None)
        daemon.start()
        try:
            wait_for(lambda: httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200,
                     seconds=30, what="/healthz")
            info = httpx.get(f"http://127.0.0.1:{port}/healthz").json()
            assert {s["source"] for s in info["sources"]} == {"motcua", "dvcqg"}
            assert "sim-password" not in json.dumps(info)
            assert httpx.get(f"http://127.0.0.1:{port}/khac").status_code == 404
        finally:
            daemon.stop()
            ws.close()


@pytest.mark.parametrize("what", ["status_port", "dashboard"])
def test_a_start_up_failure_exits_2_with_one_line(tmp_path, monkeypatch, what):
    """A port in use after the scheduler started: the catch-up jobs are waited for, the
    store closed after them (no crash), one Vietnamese line, exit 2."""
    import socket

    hook = Webhook()
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    port = busy.getsockname()[1]
    try:
        with simulation(monkeypatch) as sim:
            path = write_config(sim, tmp_path, hook.url)
            text = path.read_text(encoding="utf-8")
            if what == "status_port":
                text = text.replace("[alerts]", f"status_port = {port}\n[alerts]")
            else:
                text += f"\n[serve]\nin_daemon = true\nport = {port}\n"
            path.write_text(text, encoding="utf-8")
            env = {**os.environ, **sim.environment()}
            done = subprocess.run([nq57sync_exe(), "daemon"], cwd=tmp_path, env=env,
                                  capture_output=True, text=True, timeout=120)
        assert done.returncode == 2, done.stderr
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        assert f"Không mở được cổng {port}" in lines[-1]
        assert "Traceback" not in done.stderr
    finally:
        busy.close()
        hook.close()


def test_sigterm_during_a_stalled_pull_stops_within_seconds(tmp_path, monkeypatch):
    """The portal stops answering in the middle of a pull; SIGTERM at different moments:
    the daemon exits 0 within 10 s, keeps no partial snapshot and counts no failure."""
    import random

    hook = Webhook()
    rng = random.Random(13)
    with simulation(monkeypatch) as sim:
        write_config(sim, tmp_path, hook.url)
        env = {**os.environ, **sim.environment()}
        for attempt in range(3):
            # A few pages answer, then the portal stalls for ten minutes.
            sim.dvcqg.faults = Faults(script={"/jsp/rest.jsp": ["ok"] * rng.randint(0, 6)
                                              + ["stall"] * 50}, stall_seconds=600)
            before = sum(sim.dvcqg.requests_by_path.values())
            proc = start_daemon(tmp_path, env)
            try:
                wait_for(lambda b=before: sum(sim.dvcqg.requests_by_path.values()) > b,
                         what="the pull to start")
                time.sleep(rng.uniform(0.2, 2.0))
                proc.send_signal(signal.SIGTERM)
                started = time.monotonic()
                code = proc.wait(timeout=30)
                took = time.monotonic() - started
            finally:
                if proc.poll() is None:
                    proc.kill()
            assert code == 0
            assert took < 10, f"stopped after {took:.1f} s"  # the behaviour under test, not speed
            states = query(tmp_path, "SELECT source, state FROM snapshots WHERE source = 'dvcqg'")
            assert ("dvcqg", "running") not in states
            assert ("dvcqg", "complete") not in states
            failures = query(tmp_path, "SELECT failures FROM daemon_jobs WHERE job_id = 'sync:dvcqg'")
            assert failures in ([], [(0,)]), f"attempt {attempt}: {failures}"
    hook.close()
