"""Sync throughput against the simulators with 50 ms latency per request.

    .venv/bin/python benchmarks/sync.py

Syncs the simulated province (both sources) once one request at a time and
once with the configured concurrency, prints both wall times, the speed-up
and the peak request rate the servers observed against `requests_per_second`.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import nq57sync
from nq57sync.simulators import Faults, Simulation

RPS = 100
CONCURRENCY = 8
PAGE_SIZE = 100


def run(sim: Simulation, store: Path, concurrency: int) -> tuple[float, float, int]:
    for server in (sim.dvcqg, sim.motcua):
        server.request_times.clear()
    config = sim.config(store, requests_per_second=RPS, max_concurrency=concurrency,
                        page_size=PAGE_SIZE)
    with nq57sync.Workspace(nq57sync.Config.from_dict(config)) as ws:
        start = time.perf_counter()
        ws.sync(sim.period)
        elapsed = time.perf_counter() - start
    requests = sum(len(s.request_times) for s in (sim.dvcqg, sim.motcua))
    return elapsed, max(sim.dvcqg.peak_rate(), sim.motcua.peak_rate()), requests


def main() -> None:
    with Simulation.start(seed=57, dvcqg_faults=Faults(latency=0.05),
                          motcua_faults=Faults(latency=0.05)) as sim:
        os.environ.update(sim.environment())
        print(f"province: {len(sim.province.agencies)} agencies, "
              f"{len(sim.province.onestop):,} dossiers; period {sim.period.label}; "
              f"latency 50 ms; requests_per_second {RPS}; page size {PAGE_SIZE}")
        with tempfile.TemporaryDirectory() as tmp:
            serial, serial_peak, n = run(sim, Path(tmp) / "serial.db", 1)
            print(f"one request at a time : {serial:6.2f} s  {n} requests  peak {serial_peak:.0f}/s")
            fast, fast_peak, n = run(sim, Path(tmp) / "parallel.db", CONCURRENCY)
            print(f"max_concurrency = {CONCURRENCY}   : {fast:6.2f} s  {n} requests  "
                  f"peak {fast_peak:.0f}/s (limit {RPS}/s)")
        print(f"speed-up {serial / fast:.1f}×; rate limit "
              f"{'respected' if fast_peak <= RPS + 1 else 'EXCEEDED'}")


if __name__ == "__main__":
    main()
