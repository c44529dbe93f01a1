"""Soak: 500 compressed daemon cycles against faulty simulators.

    .venv/bin/python benchmarks/daemon.py [CYCLES]

Each cycle runs the daemon's own jobs (sync each source, reconcile) as the
scheduler would, against simulators that fail 20% of requests in every way
they know. Prints resident memory at the start and the end (it must not grow
without bound), the failed jobs, and the store's growth.
"""

from __future__ import annotations

import gc
import os
import sys
import tempfile
import time
from pathlib import Path

import nq57sync
from nq57sync.daemon import Daemon
from nq57sync.simulators import FAULT_KINDS, Faults, Simulation


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    cycles = int(sys.argv[1]) if len(sys.argv) > 1 else 500
    faults = {"rate": 0.2, "kinds": FAULT_KINDS, "retry_after": "0", "slow_seconds": 0.01}
    with Simulation.start(seed=5, agencies=3, per_day=(1, 2),
                          dvcqg_faults=Faults(seed=1, **faults),
                          motcua_faults=Faults(seed=2, **faults)) as sim, \
            tempfile.TemporaryDirectory() as tmp:
        os.environ.update(sim.environment())
        config = sim.config(Path(tmp) / "soak.db", max_retries=2, retry_backoff=0.01)
        config["schedule"] = {"periods": [sim.period.label], "failure_backoff_seconds": 0,
                              "min_budget_left": 0}
        ws = nq57sync.Workspace(nq57sync.Config.from_dict(config))
        daemon = Daemon(ws, say=lambda line: None)
        start, samples = time.perf_counter(), []
        for cycle in range(cycles):
            for name in ws.sources:
                daemon.sync_job(name)
            daemon.reconcile_job()
            if cycle in (9, cycles // 2, cycles - 1):
                gc.collect()
                samples.append((cycle + 1, rss_mb()))
        elapsed = time.perf_counter() - start
        snapshots = ws.store.snapshots()
        print(f"{cycles} cycles in {elapsed:.0f} s ({1000 * elapsed / cycles:.0f} ms each), "
              "20% faults of every kind")
        for cycle, mb in samples:
            print(f"  after cycle {cycle:4d}: resident memory {mb:6.1f} MB")
        print(f"failed jobs: {daemon.failed_jobs} of {cycles * (len(ws.sources) + 1)}; "
              f"snapshots complete {sum(s.state == 'complete' for s in snapshots)}, "
              f"failed {sum(s.state == 'failed' for s in snapshots)}; "
              f"store {ws.store.size_bytes() / 1e6:.1f} MB; "
              f"dossier versions {ws.store.version_count():,}")
        ws.close()


if __name__ == "__main__":
    main()
