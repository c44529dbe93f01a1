"""Snapshot store throughput: a first pull of N dossiers, then a re-pull with 1% changed.

    .venv/bin/python benchmarks/store.py [N]      (default 1,000,000)

Prints dossiers per second for each pull (generation of the dossier objects
excluded) and the database size after each. What a user would otherwise do —
keep a full copy per pull — is shown for comparison as the size a second full
copy would add.
"""

from __future__ import annotations

import datetime as dt
import sys
import tempfile
import time
from pathlib import Path

import attrs

from nq57sync import Period
from nq57sync.model import VN_TZ, Agency, Dossier, Procedure
from nq57sync.package import dossier_from_package, dossier_to_package
from nq57sync_storage import Store

PAGE = 10_000


def dossiers(n: int) -> list[Dossier]:
    """Dossiers as a DVCQG sync stores them: package records read by `dossier_from_package`.

    Agencies and procedures are the simulators' (names of real length: 36 bytes
    a procedure name on average), dates to the minute, a quarter finished.
    """
    from nq57sync.simulators.dataset import PROCEDURES

    agencies = [Agency(f"{a + 1:03d}.00.31.H26", f"UBND xã {name}") for a, name in
                enumerate(f"{w} {v}" for w in ("An", "Tân", "Vĩnh", "Hòa", "Kiến", "Thủy")
                          for v in ("Lão", "Hưng", "Bảo", "Thụy", "Nguyên", "Phong", "Đông",
                                    "Hải", "Sơn", "Thành", "Tiến", "Lập", "Hòa", "Long",
                                    "Phú", "Quang", "Thịnh", "Xuân", "Minh")[:114])]
    procedures = [Procedure(code, name, field) for code, name, field, *_ in PROCEDURES]
    base = dt.datetime(2025, 11, 1, 8, tzinfo=VN_TZ)
    out = []
    for i in range(n):
        received = base + dt.timedelta(days=i % 30, minutes=i % 480)
        status = (2, 4, 9, 10)[i % 4]
        shape = Dossier(
            code=f"{agencies[i % len(agencies)].code}-2511{1 + i % 30:02d}-{i:07d}",
            agency=agencies[i % len(agencies)], procedure=procedures[i % len(procedures)],
            channel=1 + i % 3, status=status, received_at=received,
            due_at=received + dt.timedelta(days=7),
            finished_at=received + dt.timedelta(days=3) if i % 4 >= 2 else None,
            synced_at=received + dt.timedelta(minutes=5),
        )
        out.append(dossier_from_package(dossier_to_package(shape)))
    return out


def timed_pull(store: Store, items: list[Dossier], period: Period) -> tuple[float, int]:
    start = time.perf_counter()
    with store.begin_snapshot(source="motcua", plugin="motcua", period=period) as writer:
        for k in range(0, len(items), PAGE):
            writer.add_dossiers(items[k:k + PAGE])
    assert writer.result is not None
    return time.perf_counter() - start, writer.result.versions_added


def settled_size(store: Store) -> int:
    """The file once its write-ahead log is folded in (right after a big commit the log
    holds a second copy of most pages, which the next checkpoint gives back)."""
    store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return store.size_bytes()


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    period = Period.parse("2025-11")
    print(f"Generating {n:,} dossiers …", flush=True)
    first = dossiers(n)
    second = [attrs.evolve(d, status=10, status_raw="10")
              if i % 100 == 5 else d for i, d in enumerate(first)]  # status 4 → 10
    with tempfile.TemporaryDirectory() as tmp, Store(Path(tmp) / "bench.db") as store:
        t1, v1 = timed_pull(store, first, period)
        size1 = settled_size(store)
        t2, v2 = timed_pull(store, second, period)
        size2 = settled_size(store)
    print(f"first snapshot : {t1:7.1f} s  {n / t1:10,.0f} dossiers/s  versions {v1:,}  "
          f"db {size1 / 1e6:,.1f} MB")
    print(f"bytes per dossier after the first snapshot: {size1 / n:,.0f} (goal ≤ 400)")
    print(f"re-snapshot 1% : {t2:7.1f} s  {n / t2:10,.0f} dossiers/s  versions {v2:,}  "
          f"db {size2 / 1e6:,.1f} MB")
    peak = next((int(line.split()[1]) / 1024 for line in
                 Path("/proc/self/status").read_text().splitlines() if line.startswith("VmHWM:")), 0)
    print(f"peak resident memory of the whole run (dossier objects included): {peak:,.0f} MB")
    print(f"re-snapshot / first: time {t2 / t1:.2f}×, file growth {100 * (size2 - size1) / size1:.1f}% "
          f"(a full copy per pull would grow it ~100%)")


if __name__ == "__main__":
    main()
