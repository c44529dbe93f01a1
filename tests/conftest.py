from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from nq57sync.model import VN_TZ, Agency, Dossier, Procedure

# No timing in tests (shared, noisy machines): no per-example deadline, and slow
# generation is not a failure.
settings.register_profile("nq57sync", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("nq57sync")

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).parent / "support"))


def make_dossier(i: int, **changes: object) -> Dossier:
    """A plausible dossier number `i` of agency `i % 7`, received in November 2025."""
    received = dt.datetime(2025, 11, 1, 8, tzinfo=VN_TZ) + dt.timedelta(minutes=37 * (i % 13),
                                                                        days=i % 29)
    values: dict[str, object] = dict(
        code=f"H31.{i % 7:02d}-251101-{i:05d}",
        agency=Agency(f"H31.{i % 7:02d}", f"UBND xã số {i % 7}"),
        procedure=Procedure(f"1.00{1000 + i % 40}", f"Thủ tục {i % 40}", "LV01"),
        channel=1 + i % 3,
        status=(2, 4, 9, 10)[i % 4],
        received_at=received,
        due_at=received + dt.timedelta(days=5),
        finished_at=received + dt.timedelta(days=3) if i % 4 >= 2 else None,
        raw={"i": i},
    )
    values.update(changes)
    return Dossier(**values)  # type: ignore[arg-type]


@pytest.fixture
def example_plugin_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The README's example plugin, installed with pip into a private folder."""
    target = tmp_path_factory.mktemp("site")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--target", str(target), str(ROOT / "examples" / "nq57sync-jsonl")],
        check=True, capture_output=True,
    )
    return target


def cli_env(*extra_paths: Path, **env: str) -> dict[str, str]:
    result = dict(os.environ)
    result["PYTHONPATH"] = os.pathsep.join(
        [*(str(p) for p in extra_paths), result.get("PYTHONPATH", "")]).strip(os.pathsep)
    result["COLUMNS"] = "200"
    result.update(env)
    return result


def nq57sync_exe() -> str:
    exe = Path(sys.executable).parent / "nq57sync"
    return str(exe) if exe.exists() else shutil.which("nq57sync") or "nq57sync"
