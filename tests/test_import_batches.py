"""An import gives the same snapshot whatever the number of rows it reads and writes at a time.

The importer reads a file in batches, spools them and writes pages; a batch
boundary must never show: not in the snapshot's content, its versions, the
per-day counts, the repeated codes it reports or the dossiers it leaves out.
The files are CSV exports written here row by row, with repeated codes, rows
outside the period and a second, changed export of the same month.
"""

import csv
import datetime as dt
import sqlite3

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import nq57sync
from nq57sync import Period

COLUMNS = ("Mã hồ sơ", "Mã TTHC", "Tên TTHC", "Mã đơn vị", "Tên đơn vị", "Kênh tiếp nhận",
           "Trạng thái", "Ngày tiếp nhận", "Ngày hẹn trả", "Ngày kết thúc xử lý",
           "Ngày trả kết quả")
CHANNELS = ("Trực tiếp", "Trực tuyến", "Bưu chính")
STATUSES = ("Đã tiếp nhận", "Đang xử lý", "Đã xử lý xong", "Đã trả kết quả")

row = st.tuples(
    st.integers(0, 40),             # code: a small range, so codes repeat
    st.integers(0, 2),              # agency
    st.integers(0, 2),              # channel
    st.integers(0, 3),              # status
    st.integers(25, 65),            # received day, counted from 1 October: some outside November
    st.integers(0, 9),              # days to the due date
    st.one_of(st.none(), st.integers(0, 9)),  # days to finishing
)


def write_export(path, rows):
    with path.open("w", encoding="utf-8-sig", newline="") as out:
        writer = csv.writer(out, delimiter=";")
        writer.writerow(COLUMNS)
        for code, agency, channel, status, day, due, finished in rows:
            received = dt.date(2025, 10, 1).toordinal() + day
            date = dt.date.fromordinal(received)
            fmt = "%d/%m/%Y"
            done = dt.date.fromordinal(min(received + finished, dt.date(2025, 11, 30).toordinal())) \
                if finished is not None else None
            writer.writerow([
                f"H{agency}-{code:05d}", f"1.00{1000 + code % 7}", f"Thủ tục số {code % 7}",
                f"000.00.3{agency}.H26", f"UBND xã số {agency}{'' if day % 3 else ' mới'}",
                CHANNELS[channel],
                STATUSES[status], f"{date:{fmt}} 08:{code % 60:02d}",
                f"{dt.date.fromordinal(received + due):{fmt}} 17:00",
                f"{done:{fmt}} 10:00" if done else "", f"{done:{fmt}} 11:00" if done else ""])


def state(path):
    """What a store holds, without its row ids and clocks."""
    with sqlite3.connect(path) as conn:
        snapshots = conn.execute(
            "SELECT source, period_start, period_end, state, dossier_count, versions_added,"
            " content_hash FROM snapshots ORDER BY id").fetchall()
        versions = conn.execute(
            "SELECT v.code, v.alt_code, v.agency_code, v.status, v.received_at, v.finished_at,"
            " v.content_hash, (SELECT count(*) FROM snapshots WHERE id <= v.valid_from),"
            " (SELECT count(*) FROM snapshots WHERE id <= v.valid_to)"
            " FROM dossier_versions AS v ORDER BY v.code, v.valid_from").fetchall()
        counts = conn.execute("SELECT * FROM dossier_counts ORDER BY 1, 2, 3, 4, 5, 6").fetchall()
        current = conn.execute("SELECT source, code, status FROM dossier_current"
                               " ORDER BY 1, 2").fetchall()
        agencies = conn.execute("SELECT * FROM agencies ORDER BY 1, 2").fetchall()
        names = conn.execute("SELECT name FROM names ORDER BY 1").fetchall()
    return snapshots, versions, counts, current, agencies, names


def import_twice(folder, files, batch_size):
    folder = folder / f"run-{len(list(folder.glob('run-*')))}"
    folder.mkdir()
    store = folder / "store.db"
    config = nq57sync.Config.from_dict(
        {"store": {"path": str(store)},
         "source": [{"name": "dvcqg", "plugin": "dvcqg", "base_url": "https://dichvucong.gov.vn",
                     "province_id": "31"}]},
        folder / "nq57sync.toml")
    notes = []
    with nq57sync.Workspace(config) as ws:
        for file in files:
            imported = ws.import_file("dvcqg", file, Period.parse("2025-11"),
                                      batch_size=batch_size)
            notes.append((imported.outside, imported.duplicates))
    return state(store), notes


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(first=st.lists(row, min_size=1, max_size=60), second=st.lists(row, max_size=60),
       sizes=st.lists(st.integers(1, 70), min_size=1, max_size=3))
def test_batches_of_any_size_give_the_same_snapshots(tmp_path_factory, first, second, sizes):
    folder = tmp_path_factory.mktemp("batches")
    files = [folder / "thang-11.csv", folder / "thang-11-hom-sau.csv"]
    write_export(files[0], first)
    write_export(files[1], first[: len(first) // 2] + second)
    reference = import_twice(folder, files, 100_000)
    assert reference[0][0][0][3] == "complete"
    for size in sizes:
        assert import_twice(folder, files, size) == reference, f"batches of {size}"
