"""Reconciling two sides of N dossiers with 1% differences: nq57sync vs datacompy vs pandas.

    .venv/bin/pip install -e ".[bench]"
    .venv/bin/python benchmarks/reconcile.py [N] [ROUNDS]   (default 1,000,000 and 3)

Builds the two sides once (a SQLite store for nq57sync, pickled DataFrames of
the same rows for the others), then runs each tool in its own process and
prints its wall time and peak resident memory. Loading the DataFrames is not
timed for pandas and datacompy; their memory is counted, as it is part of
their way of working. The tools take turns for ROUNDS rounds and each is
judged by its median: on a shared machine one run can be 30% off.
"""

from __future__ import annotations

import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import attrs

sys.path.insert(0, str(Path(__file__).parent))

COMPARED = ["agency_code", "procedure_code", "channel", "status", "received_at", "due_at",
            "finished_at", "returned_at"]


def build(n: int, folder: Path) -> None:
    import pandas as pd
    from store import dossiers

    from nq57sync import Period
    from nq57sync.model import VN_TZ  # noqa: F401
    from nq57sync_storage import Store

    period = Period.parse("2025-11")
    left = dossiers(n)
    right = []
    for i, d in enumerate(left):
        bucket = i % 100
        if bucket == 3:
            continue  # missing on the right
        if bucket == 5:
            d = attrs.evolve(d, status=4 if d.status != 4 else 2)
        elif bucket == 7:
            d = attrs.evolve(d, channel=1 if d.channel != 1 else 2)
        elif bucket == 11 and d.returned_at is None and d.finished_at is not None:
            d = attrs.evolve(d, finished_at=d.finished_at.replace(hour=(d.finished_at.hour + 2) % 24))
        right.append(d)
    with Store(folder / "bench.db") as store:
        for source, side in (("motcua", left), ("dvcqg", right)):
            with store.begin_snapshot(source=source, plugin=source, period=period) as writer:
                for k in range(0, len(side), 20_000):
                    writer.add_dossiers(side[k:k + 20_000])

    def frame(side: list) -> pd.DataFrame:
        return pd.DataFrame({
            "code": [d.code for d in side],
            "agency_code": [d.agency.code for d in side],
            "procedure_code": [d.procedure.code for d in side],
            "channel": [int(d.channel) for d in side],
            "status": [int(d.status) for d in side],
            **{c: pd.to_datetime([getattr(d, c) for d in side], utc=True)
               for c in ("received_at", "due_at", "finished_at", "returned_at")},
        })

    frame(left).to_pickle(folder / "left.pkl")
    frame(right).to_pickle(folder / "right.pkl")


def _peak_mb() -> float:
    """This process's peak resident memory (VmHWM resets at exec, unlike ru_maxrss)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_tool(tool: str, folder: Path) -> dict[str, float]:
    if tool == "nq57sync":
        from nq57sync import Config, Period
        from nq57sync.reconcile import Reconciler
        from nq57sync_storage import Store

        with Store(folder / "bench.db") as store:
            with store.transaction() as conn:  # every round starts from no earlier run
                conn.execute("DELETE FROM discrepancies")
                conn.execute("DELETE FROM reconcile_runs")
            start = time.perf_counter()
            result = Reconciler(store, Config.from_dict({})).run(Period.parse("2025-11"))
            elapsed = time.perf_counter() - start
            found = len(result.discrepancies)
    else:
        import pandas as pd

        left, right = pd.read_pickle(folder / "left.pkl"), pd.read_pickle(folder / "right.pkl")
        start = time.perf_counter()
        if tool == "datacompy":
            import datacompy

            compare_class = getattr(datacompy, "PandasCompare", None) or datacompy.Compare
            compare = compare_class(left, right, join_columns="code")
            found = (len(compare.df1_unq_rows) + len(compare.df2_unq_rows)
                     + int(sum(len(compare.sample_mismatch(c, sample_count=10**9))
                               for c in COMPARED)))
        else:
            merged = left.merge(right, on="code", how="outer", suffixes=("_l", "_r"),
                                indicator=True)
            found = int((merged["_merge"] != "both").sum())
            both = merged[merged["_merge"] == "both"]
            for column in COMPARED:
                a, b = both[f"{column}_l"], both[f"{column}_r"]
                found += int((~((a == b) | (a.isna() & b.isna()))).sum())
        elapsed = time.perf_counter() - start
    peak_mb = _peak_mb()
    return {"seconds": elapsed, "peak_mb": peak_mb, "found": found}


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--run":
        print(json.dumps(run_tool(sys.argv[2], Path(sys.argv[3]))))
        return
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        started = time.perf_counter()
        build(n, folder)
        print(f"built two sides of {n:,} dossiers with 1% differences in "
              f"{time.perf_counter() - started:.0f} s")
        rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 3
        runs: dict[str, list[dict[str, float]]] = {"nq57sync": [], "datacompy": [], "pandas": []}
        for _ in range(rounds):
            for tool, done in runs.items():
                out = subprocess.run([sys.executable, __file__, "--run", tool, str(folder)],
                                     capture_output=True, text=True)
                if out.returncode:
                    sys.exit(f"{tool} failed:\n{out.stderr[-2000:]}")
                done.append(json.loads(out.stdout.strip().splitlines()[-1]))
        results = {}
        for tool, done in runs.items():
            seconds = sorted(r["seconds"] for r in done)
            results[tool] = r = {"seconds": statistics.median(seconds),
                                 "peak_mb": max(r["peak_mb"] for r in done)}
            print(f"{tool:10s} median {r['seconds']:6.2f} s  (runs {', '.join(f'{x:.2f}' for x in seconds)})"
                  f"   peak {r['peak_mb']:6.0f} MB   differences found {done[0]['found']:,}")
        ours, dc, pd_ = results["nq57sync"], results["datacompy"], results["pandas"]
        print(f"nq57sync vs datacompy: {dc['seconds'] / ours['seconds']:.1f}× faster, "
              f"{ours['peak_mb'] / dc['peak_mb']:.2f}× the peak memory")
        print(f"nq57sync vs bare pandas merge: {pd_['seconds'] / ours['seconds']:.2f}× the speed, "
              f"{ours['peak_mb'] / pd_['peak_mb']:.2f}× the peak memory")

if __name__ == "__main__":
    main()
