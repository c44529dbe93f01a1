"""Importing a large exported list: nq57sync beside the floor and pandas, in one run.

    .venv/bin/python benchmarks/import_file.py [ROWS]      (default 1,000,000)

Writes a CSV of the portal's export columns (one month, `;`-separated, UTF-8
with a byte-order mark, as Excel saves it) and runs, each in its own process so
its peak resident memory is its own:

- the floor: Python's `csv` feeding one `executemany` into a keyed SQLite table;
- what a user would otherwise write: pandas `read_csv` + `to_sql` (when pandas
  is installed: `pip install -e .[bench]`);
- `nq57sync import` into an empty store;
- the same file with 1% of its rows changed, imported again.

It prints time, rows/s, peak memory and each time's ratio to the floor, then
the store's bytes per dossier.
"""

from __future__ import annotations

import csv
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

COLUMNS = ("Mã hồ sơ", "Mã TTHC", "Tên TTHC", "Mã đơn vị", "Tên đơn vị", "Kênh tiếp nhận",
           "Trạng thái", "Ngày tiếp nhận", "Ngày hẹn trả", "Ngày kết thúc xử lý",
           "Ngày trả kết quả")
CHANNELS = ("Trực tiếp", "Trực tuyến", "Bưu chính")
STATUSES = ("Đã tiếp nhận", "Đang xử lý", "Đã xử lý xong", "Đã trả kết quả")


def write_csv(path: Path, rows: int) -> None:
    with path.open("w", encoding="utf-8-sig", newline="") as out:
        writer = csv.writer(out, delimiter=";")
        writer.writerow(COLUMNS)
        for i in range(rows):
            day = 1 + i % 28
            agency = f"{i % 114:03d}.00.31.H26"
            finished = f"{min(28, day + 3):02d}/11/2025 10:00" if i % 4 >= 2 else ""
            writer.writerow([f"{agency}-2511{day:02d}-{i:07d}", f"1.00{1000 + i % 300}",
                             f"Thủ tục hành chính số {i % 300}", agency, f"UBND xã số {i % 114}",
                             CHANNELS[i % 3], STATUSES[i % 4], f"{day:02d}/11/2025 08:{i % 60:02d}",
                             f"{min(28, day + 7):02d}/11/2025 17:00", finished, finished])


#: Runs a command and prints its peak resident kilobytes: each measurement has a parent
#: of its own, so one child's peak never hides another's (RUSAGE_CHILDREN is a maximum).
_PEAK = ("import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True, "
         "stdout=subprocess.DEVNULL); print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")


def measured(args: list[str], cwd: Path) -> tuple[float, float]:
    """Wall seconds and peak resident MB of one command in its own process."""
    started = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", _PEAK, *args], cwd=cwd, check=True,
                         capture_output=True, text=True).stdout
    return time.perf_counter() - started, int(out.split()[-1]) / 1024


FLOOR = """
import csv, sqlite3, sys
conn = sqlite3.connect(sys.argv[2])
conn.execute("CREATE TABLE d (code TEXT PRIMARY KEY, " + ", ".join(f"c{i}" for i in range(10)) + ")")
with open(sys.argv[1], encoding="utf-8-sig", newline="") as f:
    rows = csv.reader(f, delimiter=";")
    next(rows)
    conn.executemany("INSERT OR REPLACE INTO d VALUES (" + ", ".join("?" * 11) + ")", rows)
conn.commit()
"""

PANDAS = """
import sqlite3, sys, pandas
frame = pandas.read_csv(sys.argv[1], sep=";", dtype=str, encoding="utf-8-sig")
with sqlite3.connect(sys.argv[2]) as conn:
    frame.to_sql("d", conn, index=False, chunksize=50_000)
"""


def change_one_percent(source: Path, target: Path) -> None:
    """The same export a day later: every hundredth dossier has finished."""
    with source.open(encoding="utf-8-sig", newline="") as src, \
            target.open("w", encoding="utf-8-sig", newline="") as out:
        reader, writer = csv.reader(src, delimiter=";"), csv.writer(out, delimiter=";")
        writer.writerow(next(reader))
        for i, row in enumerate(reader):
            if i % 100 == 0:
                row[6], row[9], row[10] = STATUSES[3], "28/11/2025 16:00", "28/11/2025 16:00"
            writer.writerow(row)


def main() -> None:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    folder = Path(tempfile.mkdtemp(prefix="nq57sync-bench-import-"))
    try:
        path = folder / "danh-sach.csv"
        write_csv(path, rows)
        changed = folder / "danh-sach-hom-sau.csv"
        change_one_percent(path, changed)
        (folder / "nq57sync.toml").write_text(
            '[store]\npath = "s.db"\n\n[[source]]\nname = "dvcqg"\nplugin = "dvcqg"\n'
            'base_url = "https://dichvucong.gov.vn"\nprovince_id = "31"\n', encoding="utf-8")
        size = path.stat().st_size / 1e6
        print(f"{rows:,} rows, {size:.1f} MB CSV; each command in its own process")
        print(f"{'':48} {'time':>8} {'rows/s':>10} {'× floor':>8} {'peak':>8}")

        def show(label: str, took: float, peak: float, floor: float | None) -> None:
            ratio = f"{took / floor:.2f}" if floor else "1.00"
            print(f"{label:48} {took:7.1f}s {rows / took:10,.0f} {ratio:>8} {peak:6.0f}MB")

        floor, peak = measured([sys.executable, "-c", FLOOR, str(path), "floor.db"], folder)
        show("floor: csv + executemany into a keyed table", floor, peak, None)
        try:
            import pandas  # noqa: F401
        except ImportError:
            print("pandas read_csv + to_sql: not installed (pip install -e .[bench])")
        else:
            took, peak = measured([sys.executable, "-c", PANDAS, str(path), "pandas.db"], folder)
            show("pandas read_csv + to_sql", took, peak, floor)
        exe = str(Path(sys.executable).parent / "nq57sync")
        took, peak = measured([exe, "import", "--source", "dvcqg", "--period", "2025-11",
                               path.name], folder)
        show("nq57sync import, empty store", took, peak, floor)
        with sqlite3.connect(folder / "s.db") as conn:  # the log folded in, as store.py does
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        stored = (folder / "s.db").stat().st_size
        took, peak = measured([exe, "import", "--source", "dvcqg", "--period", "2025-11",
                               changed.name], folder)
        show("nq57sync import, same file with 1% changed", took, peak, floor)
        print(f"store after the first import: {stored / 1e6:.1f} MB = "
              f"{stored / rows:,.0f} bytes per dossier")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
