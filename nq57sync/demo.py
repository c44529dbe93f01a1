"""`nq57sync demo`: the whole product in a minute, with no configuration and no network.

Starts both simulators on loopback with a scenario that plants every kind of
discrepancy, syncs three months, reconciles the last complete one and writes
every report format.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable
from pathlib import Path

import attrs

from nq57sync.config import Config
from nq57sync.files import json_chunks, write_text
from nq57sync.model import VN_TZ
from nq57sync.period import Period
from nq57sync.reconcile import ReconcileResult
from nq57sync.simulators import Simulation
from nq57sync.workspace import Workspace


@attrs.frozen
class DemoResult:
    period: Period
    result: ReconcileResult
    files: dict[str, Path]
    store: Path
    config: Path         # an nq57sync.toml beside the store, for `serve`, `status` …


def run_demo(output: Path, say: Callable[[str], None] = print, *,
             keep: Callable[[Simulation, Workspace], None] | None = None) -> DemoResult:
    # Resolved once: the configuration written below names the store by this path.
    output = output.resolve()
    output.mkdir(parents=True, exist_ok=True)
    store = output / "nq57sync.db"
    for stale in output.glob("nq57sync.db*"):  # every run starts from an empty store
        stale.unlink()
    # The province as of the start of this hour: the same seed gives the same figures
    # whatever minute the demo runs (and the planted sync_pending stays two hours old).
    as_of = dt.datetime.now(VN_TZ).replace(minute=0, second=0, microsecond=0)
    say("Khởi động hai hệ thống mô phỏng (Một cửa điện tử và Cổng DVCQG) trên máy này …")
    with Simulation.start(seed=57, as_of=as_of) as sim:
        previous = os.environ.copy()
        os.environ.update(sim.environment())
        try:
            config_path = sim.write_config(output / "nq57sync.toml", store)
            ws = Workspace(Config.load(config_path))
            with ws:
                # The month before, the period, and the month under way: a trend to draw.
                before = sim.period.start - dt.timedelta(days=1)
                after = sim.period.end + dt.timedelta(days=1)
                for month in (Period.parse(f"{before:%Y-%m}"), sim.period,
                              Period.parse(f"{after:%Y-%m}")):
                    say(f"Đồng bộ {month.describe_vi().removeprefix('Kỳ báo cáo: ')} …")
                    ws.sync(month)
                say("Đối chiếu hai hệ thống …")
                result = ws.reconcile(sim.period)
                files = {}
                for fmt in ("docx", "xlsx", "html", "md"):
                    files[fmt] = ws.report(result, output / f"bao-cao-{sim.period.label}.{fmt}")
                files["json"] = output / f"doi-chieu-{sim.period.label}.json"
                write_text(files["json"], json_chunks(result.as_json()))
                if keep is not None:
                    keep(sim, ws)
        finally:
            os.environ.clear()
            os.environ.update(previous)
    return DemoResult(sim.period, result, files, store, config_path)
