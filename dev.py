#!/usr/bin/env python3
"""Set-up and run nq57sync on a fresh machine that has only Python 3.11+.

    python3 dev.py demo    # the main job: start the simulators, sync, reconcile, report
    python3 dev.py test    # the test suite

Creates `.venv/` beside this file and installs the project into it (again only
when pyproject.toml changed). Extra arguments are passed on.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")


def ensure_environment() -> None:
    if not (BIN / "python").exists():
        print("Tạo môi trường ảo .venv …", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    stamp = VENV / ".nq57sync-installed"
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if stamp.exists() and stamp.read_text() == wanted:
        return
    print("Cài đặt nq57sync và các thư viện cần thiết …", flush=True)
    pip = [str(BIN / "python"), "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "install", "--upgrade", "pip"], check=True)
    subprocess.run([*pip, "install", "-e", f"{ROOT}[test]"], check=True)
    stamp.write_text(wanted)


def main() -> int:
    if len(sys.argv) < 2 or sys.argv[1] not in {"demo", "test"}:
        print(__doc__)
        return 2
    ensure_environment()
    command, rest = sys.argv[1], sys.argv[2:]
    if command == "test":
        return subprocess.call([str(BIN / "python"), "-m", "pytest", *rest], cwd=ROOT)
    return subprocess.call([str(BIN / "nq57sync"), "demo", *rest])


if __name__ == "__main__":
    sys.exit(main())
