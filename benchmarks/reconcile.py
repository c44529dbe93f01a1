"""`nq57sync reconcile` end to end on 2 × N dossiers, beside its anchors, in one run.

    .venv/bin/pip install -e ".[bench]"
    .venv/bin/python benchmarks/reconcile.py [N] [ROUNDS]   (default 1,000,000 and 3)

Builds the two sides once (one side with 1% other statuses, channels or
finish times and 0.5% missing): a store for nq57sync, a SQLite file with
the same rows in two tables keyed by code, and pickled DataFrames. Then, in
interleaved rounds, each in a process of its own:

- **nq57sync**: the command as a user runs it, `nq57sync reconcile --period
  2025-11 --format json --output …`, measured from outside like `/usr/bin/time`
  (process start, configuration, output; wall time and the child's peak RSS
  from `wait4`), first on a store without earlier runs, then again with
  nothing changed;
- **SQLite**: a bare `FULL OUTER JOIN` of the two tables comparing the same
  fields, the query alone — the floor any SQL-based tool stands on;
- **datacompy**: `Compare` and `all_mismatch()` on the two frames already
  in memory (loading not timed, its memory counted);
- **pandas**: a bare outer merge and column comparisons, for reference.

Each is judged by its median; the ratios are printed against the goals of
issue #16.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
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
GOALS = {"sqlite": 1.5, "datacompy": 3.0, "peak_mb": 200.0, "rerun": 0.5}


def sides(n: int) -> tuple[list, list]:
    from store import dossiers

    left = dossiers(n)
    right = []
    for i, d in enumerate(left):
        bucket = i % 200
        if bucket == 3:
            continue  # missing on the right (0.5%)
        if bucket in (5, 105):
            d = attrs.evolve(d, status=4 if d.status != 4 else 2)
        elif bucket == 7:
            d = attrs.evolve(d, channel=1 if d.channel != 1 else 2)
        elif bucket == 11 and d.returned_at is None and d.finished_at is not None:
            d = attrs.evolve(d, finished_at=d.finished_at.replace(hour=(d.finished_at.hour + 2) % 24))
        right.append(d)
    return left, right


def build_stores(left: list, right: list, folder: Path) -> None:
    """The store and its configuration only (the commune-sized case needs nothing else)."""
    from nq57sync import Period
    from nq57sync_storage import Store

    with Store(folder / "bench.db") as store:
        for source, side in (("motcua", left), ("dvcqg", right)):
            with store.begin_snapshot(source=source, plugin=source,
                                      period=Period.parse("2025-11")) as writer:
                for k in range(0, len(side), 20_000):
                    writer.add_dossiers(side[k:k + 20_000])
    (folder / "nq57sync.toml").write_text(
        f'[store]\npath = "{folder / "bench.db"}"\n'
        '[reconcile]\nleft = "motcua"\nright = "dvcqg"\n', encoding="utf-8")


def build(n: int, folder: Path) -> None:
    import pandas as pd

    left, right = sides(n)
    build_stores(left, right, folder)
    # The same rows for the bare join: two tables keyed by code, values as the store holds them.
    with sqlite3.connect(folder / "bare.db") as bare:
        bare.execute("ATTACH ? AS store", (str(folder / "bench.db"),))
        for name, source in (("l", "motcua"), ("r", "dvcqg")):
            bare.execute(f"CREATE TABLE {name} (code TEXT PRIMARY KEY, {', '.join(COMPARED)})"
                         " WITHOUT ROWID")
            bare.execute(f"INSERT INTO {name} SELECT code, {', '.join(COMPARED)}"
                         " FROM store.dossier_versions WHERE source = ? AND valid_to IS NULL"
                         " ORDER BY code", (source,))

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
    """This process's peak resident memory (VmHWM resets at exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def run_inside(tool: str, folder: Path) -> dict[str, float]:
    """The anchors, timed inside their own process (loading excluded)."""
    if tool == "sqlite":
        conn = sqlite3.connect(folder / "bare.db")
        differs = " OR ".join(f"l.{c} IS NOT r.{c}" for c in COMPARED)
        start = time.perf_counter()
        found = conn.execute(
            "SELECT count(*) FROM (SELECT l.code AS lc, r.code AS rc, "
            + ", ".join(f"l.{c}, r.{c}" for c in COMPARED)
            + f" FROM l FULL OUTER JOIN r ON r.code = l.code WHERE l.code IS NULL"
            f" OR r.code IS NULL OR {differs})").fetchone()[0]
        return {"seconds": time.perf_counter() - start, "peak_mb": _peak_mb(), "found": found}
    import pandas as pd

    left, right = pd.read_pickle(folder / "left.pkl"), pd.read_pickle(folder / "right.pkl")
    start = time.perf_counter()
    if tool == "datacompy":
        import datacompy

        compare_class = getattr(datacompy, "PandasCompare", None) or datacompy.Compare
        compare = compare_class(left, right, join_columns="code")
        found = (len(compare.df1_unq_rows) + len(compare.df2_unq_rows)
                 + len(compare.all_mismatch()))
    else:
        merged = left.merge(right, on="code", how="outer", suffixes=("_l", "_r"), indicator=True)
        found = int((merged["_merge"] != "both").sum())
        both = merged[merged["_merge"] == "both"]
        for column in COMPARED:
            a, b = both[f"{column}_l"], both[f"{column}_r"]
            found += int((~((a == b) | (a.isna() & b.isna()))).sum())
    return {"seconds": time.perf_counter() - start, "peak_mb": _peak_mb(), "found": found}


def run_command(folder: Path, *, fresh: bool) -> dict[str, float]:
    """`nq57sync reconcile … --format json` measured from outside, as /usr/bin/time would."""
    if fresh:  # a store without earlier runs (benchmarks may write SQL; the code may not)
        with sqlite3.connect(folder / "bench.db") as conn:
            for table in ("discrepancies", "reconcile_runs", "match_cache"):
                conn.execute(f"DELETE FROM {table}")
    exe = shutil.which("nq57sync", path=str(Path(sys.executable).parent)) or "nq57sync"
    out = folder / "ket-qua.json"
    start = time.perf_counter()
    child = subprocess.Popen([exe, "reconcile", "--period", "2025-11", "--format", "json",
                              "--output", str(out), "--config", str(folder / "nq57sync.toml")],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - start
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode:
        sys.exit(f"nq57sync reconcile failed: {child.stderr.read().decode()[-2000:]}")
    found = json.loads(out.read_text(encoding="utf-8"))["summary"]["discrepancies"]
    return {"seconds": seconds, "peak_mb": usage.ru_maxrss / 1024, "found": found}


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--run":
        print(json.dumps(run_inside(sys.argv[2], Path(sys.argv[3]))))
        return
    if len(sys.argv) > 2 and sys.argv[1] == "--build":
        build(int(sys.argv[2]), Path(sys.argv[3]))
        return
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    kept = os.environ.get("NQ57SYNC_BENCH_DIR")  # keep the built sides there (for profiling)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(kept or tmp)
        folder.mkdir(parents=True, exist_ok=True)
        if not (folder / "right.pkl").exists():
            started = time.perf_counter()
            # In a process of its own: a child forked from a parent holding two million
            # dossiers would count them in its peak memory (ru_maxrss spans the fork).
            subprocess.run([sys.executable, __file__, "--build", str(n), str(folder)], check=True)
            print(f"built two sides of {n:,} dossiers (1% other values, 0.5% missing) in "
                  f"{time.perf_counter() - started:.0f} s")
        runs: dict[str, list[dict[str, float]]] = {
            "nq57sync": [], "nq57sync again": [], "sqlite": [], "datacompy": [], "pandas": []}
        for _ in range(rounds):
            runs["nq57sync"].append(run_command(folder, fresh=True))
            runs["nq57sync again"].append(run_command(folder, fresh=False))
            for tool in ("sqlite", "datacompy", "pandas"):
                out = subprocess.run([sys.executable, __file__, "--run", tool, str(folder)],
                                     capture_output=True, text=True)
                if out.returncode:
                    sys.exit(f"{tool} failed:\n{out.stderr[-2000:]}")
                runs[tool].append(json.loads(out.stdout.strip().splitlines()[-1]))
        med = {}
        for tool, done in runs.items():
            seconds = sorted(r["seconds"] for r in done)
            med[tool] = r = {"seconds": statistics.median(seconds),
                             "peak_mb": max(r["peak_mb"] for r in done)}
            print(f"{tool:15s} median {r['seconds']:6.2f} s (runs "
                  f"{', '.join(f'{x:.2f}' for x in seconds)})  peak {r['peak_mb']:5.0f} MB"
                  f"  differences {done[0]['found']:,}")
        ours = med["nq57sync"]
        checks = [
            ("× a bare SQLite full outer join", ours["seconds"] / med["sqlite"]["seconds"],
             f"≤ {GOALS['sqlite']}", ours["seconds"] / med["sqlite"]["seconds"] <= GOALS["sqlite"]),
            ("× faster than datacompy", med["datacompy"]["seconds"] / ours["seconds"],
             f"≥ {GOALS['datacompy']}",
             med["datacompy"]["seconds"] / ours["seconds"] >= GOALS["datacompy"]),
            ("MB peak", ours["peak_mb"], f"≤ {GOALS['peak_mb']:.0f}",
             ours["peak_mb"] <= GOALS["peak_mb"]),
            ("× the first run when nothing changed", med["nq57sync again"]["seconds"]
             / ours["seconds"], f"≤ {GOALS['rerun']}",
             med["nq57sync again"]["seconds"] / ours["seconds"] <= GOALS["rerun"]),
        ]
        for label, value, goal, met in checks:
            print(f"nq57sync: {value:6.2f} {label:40s} goal {goal:6s} {'met' if met else 'NOT met'}")
        print(f"(bare pandas merge: {med['pandas']['seconds']:.2f} s, "
              f"{med['pandas']['peak_mb']:.0f} MB)")
    # What the daemon and the dashboard do often: a commune's month, process start included.
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        build_stores(*sides(2_000), folder)
        small = sorted(run_command(folder, fresh=True)["seconds"] for _ in range(max(3, rounds)))
        print(f"nq57sync on 2,000 dossiers a side: median {statistics.median(small):.2f} s (runs "
              f"{', '.join(f'{x:.2f}' for x in small)}), goal < 0.5 s end to end")


if __name__ == "__main__":
    main()
