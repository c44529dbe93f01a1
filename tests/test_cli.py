"""The command end to end, in a subprocess, with the README's example plugin installed."""

import json
import os
import re
import signal
import subprocess
import time

import pytest
from conftest import ROOT, cli_env, make_dossier, nq57sync_exe

from nq57sync.package import dossier_to_package
from nq57sync_storage import Store

SUPPORT = ROOT / "tests" / "support"


def run(args, cwd, env, check=True):
    result = subprocess.run([nq57sync_exe(), *args], cwd=cwd, env=env, capture_output=True,
                            text=True, timeout=120)
    if check and result.returncode != 0:
        raise AssertionError(f"exit {result.returncode}: {result.stdout}\n{result.stderr}")
    return result


@pytest.fixture
def project(tmp_path, example_plugin_path):
    lines = [json.dumps(dossier_to_package(make_dossier(i)), ensure_ascii=False)
             for i in range(500)]
    (tmp_path / "packages.jsonl").write_text("\n".join(lines), encoding="utf-8")
    (tmp_path / "nq57sync.toml").write_text(
        '[store]\npath = "store.db"\n\n'
        '[[source]]\nname = "files"\nplugin = "jsonl"\npath = "packages.jsonl"\n\n'
        '[[source]]\nname = "slow"\nplugin = "slow"\npages = 300\n',
        encoding="utf-8")
    env = cli_env(example_plugin_path, SUPPORT, ROOT / "tests", NQ57SYNC_PLUGINS="slow_source")
    return tmp_path, env


def test_help_lists_the_commands(project):
    cwd, env = project
    out = run(["--help"], cwd, env).stdout
    for command in ("sync", "import", "snapshots", "doctor"):
        assert command in out


def test_sync_import_snapshots_doctor(project):
    cwd, env = project
    out = run(["sync", "--period", "2025-11", "--source", "files"], cwd, env).stdout
    assert "ảnh chụp số 1" in out and "500 hồ sơ" in out

    again = json.loads(run(["sync", "--period", "2025-11", "--source", "files", "--json"],
                           cwd, env).stdout)
    assert again[0]["dossiers"] == 500 and again[0]["versions_added"] == 0

    # An export of 10 dossiers with a new status: a snapshot of just those.
    changed = [json.dumps(dossier_to_package(make_dossier(i, status=10)), ensure_ascii=False)
               for i in range(0, 40, 4) if make_dossier(i).status != 10]
    (cwd / "export.jsonl").write_text("\n".join(changed), encoding="utf-8")
    imported = json.loads(run(["import", "--source", "files", "export.jsonl", "--json"],
                              cwd, env).stdout)
    assert imported["kind"] == "import" and imported["versions_added"] == len(changed)

    listing = json.loads(run(["snapshots", "--json"], cwd, env).stdout)
    assert [s["id"] for s in listing] == [3, 2, 1]
    table = run(["snapshots"], cwd, env).stdout
    assert "hoàn tất" in table and "nhập tệp" in table

    doctor = run(["doctor"], cwd, env)
    assert "Kho dữ liệu và cấu hình ổn." in doctor.stdout


@pytest.mark.parametrize(("args", "message"), [
    (["sync", "--period", "2025-13"], "Không hiểu kỳ “2025-13”"),
    (["sync", "--period", "2025-11", "--source", "nope"], "không có nguồn “nope”"),
    (["import", "--source", "files", "absent.jsonl"], "Không tìm thấy tệp absent.jsonl"),
    (["snapshots", "--config", "other.toml"], "Không tìm thấy tệp cấu hình other.toml"),
])
def test_errors_are_one_vietnamese_line_and_exit_2(project, args, message):
    cwd, env = project
    result = run(args, cwd, env, check=False)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_a_bad_export_loses_nothing(project):
    cwd, env = project
    run(["sync", "--period", "2025-11", "--source", "files"], cwd, env)
    (cwd / "bad.jsonl").write_text('{"MaHoSo": "X", "KenhThucHien": "9"}\n', encoding="utf-8")
    result = run(["import", "--source", "files", "bad.jsonl"], cwd, env, check=False)
    assert result.returncode == 2 and "KenhThucHien" in result.stderr
    assert [s["state"] for s in json.loads(run(["snapshots", "--json"], cwd, env).stdout)] == [
        "complete"]


def test_killing_a_pull_midway_leaves_no_partial_snapshot(project):
    cwd, env = project
    run(["sync", "--period", "2025-11", "--source", "files"], cwd, env)
    with Store(cwd / "store.db") as store:
        versions_before = store.query("SELECT * FROM dossier_versions ORDER BY id")
    ready = cwd / "ready"
    proc = subprocess.Popen(
        [nq57sync_exe(), "sync", "--period", "2025-11", "--source", "slow"], cwd=cwd,
        env={**env, "SLOW_SOURCE_READY_FILE": str(ready)},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not ready.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert ready.exists(), "the slow pull never got going"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)

    with Store(cwd / "store.db") as store:
        assert store.query("SELECT * FROM dossier_versions ORDER BY id") == versions_before
        assert store.latest_complete("slow") is None
    doctor = run(["doctor", "--json"], cwd, env)
    report = json.loads(doctor.stdout)
    assert report["healthy"] is True
    interrupted = next(c for c in report["checks"] if c["name"] == "interrupted")
    assert "bị gián đoạn" in interrupted["detail"]
    states = {s["source"]: s["state"] for s in json.loads(run(["snapshots", "--json"], cwd,
                                                              env).stdout)}
    assert states == {"slow": "failed", "files": "complete"}


#: English that click or a library would print if left untranslated.
ENGLISH = re.compile(r"Usage|Options|Commands|Show this|show the|\brequired\b|No such|is not a|"
                     r"not one of|Error\b|Try '|PERIOD_TYPE|\bTEXT\b|\bINTEGER\b|\bPATH\b|"
                     r"default:|Missing|unexpected|does not exist|Address already|"
                     r"Traceback|Expected|\[OPTIONS\]|COMMAND|ARGS", re.IGNORECASE)


@pytest.mark.parametrize("args", [
    ["syn"], ["snapshots", "--limit", "abc"], ["sync"], ["sync", "--period"],
    ["reconcile", "--period", "2025-11", "--format", "pdf"], ["--bogus"],
    ["sync", "--period", "2025-13"], ["import", "--source", "files"],
    ["serve", "--port", "99999"], ["snapshots", "--source", "khong-co"], ["status", "extra"],
    ["--help"], ["sync", "--help"], ["import", "--help"], ["reconcile", "--help"],
    ["report", "--help"], ["serve", "--help"], ["doctor", "--help"], ["demo", "--help"],
])
def test_every_message_a_user_can_trigger_is_vietnamese(project, args):
    cwd, env = project
    done = run(args, cwd, env, check=False)
    text = done.stdout + done.stderr
    assert not ENGLISH.search(text), ENGLISH.search(text).group(0) + ": " + text[:400]
    if "--help" not in args:
        assert done.returncode == 2 and done.stderr.startswith("Lỗi: ")
        assert len(done.stderr.strip().splitlines()) <= 2  # one sentence (wrapped at most once)


def test_toml_syntax_and_a_busy_port_are_one_vietnamese_line(project):
    import socket

    cwd, env = project
    (cwd / "bad.toml").write_text('[store\npath = "x.db"\n', encoding="utf-8")
    bad = run(["doctor", "--config", "bad.toml"], cwd, env, check=False)
    assert bad.returncode == 2 and "sai cú pháp TOML ở dòng 1, cột" in bad.stdout
    assert not ENGLISH.search(bad.stdout)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        run(["sync", "--period", "2025-11", "--source", "files"], cwd, env)
        served = run(["serve", "--port", str(port)], cwd, env, check=False)
    assert served.returncode == 2
    assert served.stderr.startswith(f"Lỗi: Không mở được cổng {port} cho bảng theo dõi: cổng")


def test_every_command_is_in_the_readme_with_an_example_in_its_help():
    """As datasette's documentation tests: a command added without words fails here."""
    from nq57sync.cli import cli

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for name, command in cli.commands.items():
        assert f"nq57sync {name}" in readme, f"README does not show `nq57sync {name}`"
        assert f"nq57sync {name}" in (command.help or ""), f"`{name} --help` has no example"
