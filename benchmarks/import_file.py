"""Importing a large exported list: time and peak memory of `nq57sync import`.

    .venv/bin/python benchmarks/import_file.py [ROWS]      (default 500,000)

Writes a CSV of the portal's export columns (one month, `;`-separated, UTF-8
with a byte-order mark, as Excel saves it), imports it with the command in its
own process and prints the file's size, the time and the process's peak
resident memory. For comparison, in the same run and also in its own process:
reading the same file whole with pandas (`read_csv`, when pandas is installed:
`pip install -e .[bench]`), what a user would reach for, which only loads it.
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


def main() -> None:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 500_000
    folder = Path(tempfile.mkdtemp(prefix="nq57sync-bench-import-"))
    try:
        path = folder / "danh-sach.csv"
        write_csv(path, rows)
        (folder / "nq57sync.toml").write_text(
            '[store]\npath = "s.db"\n\n[[source]]\nname = "dvcqg"\nplugin = "dvcqg"\n'
            'base_url = "https://dichvucong.gov.vn"\nprovince_id = "31"\n', encoding="utf-8")
        size = path.stat().st_size / 1e6
        print(f"{rows:,} rows, {size:.1f} MB CSV")
        exe = str(Path(sys.executable).parent / "nq57sync")
        took, peak = measured([exe, "import", "--source", "dvcqg", "--period", "2025-11",
                               path.name], folder)
        print(f"nq57sync import: {took:.1f} s ({rows / took:,.0f} rows/s), peak {peak:.0f} MB "
              f"({peak / size:.1f}× the file)")
        with sqlite3.connect(folder / "s.db") as conn:  # the log folded in, as store.py does
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        stored = (folder / "s.db").stat().st_size
        print(f"store: {stored / 1e6:.1f} MB = {stored / rows:,.0f} bytes per dossier")
        try:
            import pandas  # noqa: F401
        except ImportError:
            print("pandas.read_csv: not installed (pip install -e .[bench])")
            return
        took, peak = measured([sys.executable, "-c", "import pandas, sys; "
                               "pandas.read_csv(sys.argv[1], sep=';', dtype=str)", str(path)],
                              folder)
        print(f"pandas.read_csv (load only): {took:.1f} s, peak {peak:.0f} MB "
              f"({peak / size:.1f}× the file)")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
