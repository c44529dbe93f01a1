"""Importing the portal's exported dossier lists: HTML-as-.xls, .xlsx, .csv."""

import csv

import openpyxl
import pytest
from sim import simulation, workspace

from nq57sync import DataError
from nq57sync.simulators.dvcqg import EXPORT_COLUMNS, export_rows


@pytest.fixture
def sim_and_ws(tmp_path, monkeypatch):
    with simulation(monkeypatch) as sim:
        yield sim, workspace(sim, tmp_path / "s.db")


def _write(kind, path, sim):
    rows = export_rows(sim.province, sim.period)
    if kind == "xls":
        sim.dvcqg.export_xls(path, sim.period)
    elif kind == "xlsx":
        book = openpyxl.Workbook()
        sheet = book.active
        sheet.append(list(EXPORT_COLUMNS))
        for row in rows:
            sheet.append(row)
        book.save(path)
    else:
        with path.open("w", encoding="utf-8-sig", newline="") as out:
            writer = csv.writer(out, delimiter=";")
            writer.writerow(EXPORT_COLUMNS)
            writer.writerows(rows)
    return rows


@pytest.mark.parametrize("kind", ["xls", "xlsx", "csv"])
def test_each_export_format_imports_the_portal_copies(sim_and_ws, tmp_path, kind):
    sim, ws = sim_and_ws
    path = tmp_path / f"danh-sach.{kind}"
    rows = _write(kind, path, sim)
    snapshot = ws.import_file("dvcqg", path).snapshot
    assert snapshot.kind == "import" and snapshot.dossier_count == len(rows) > 100
    stored = {d.code: d for d in ws.store.dossiers_as_of(snapshot.id)}
    for code in list(stored)[:50]:
        truth = sim.province.portal[code]
        mine = stored[code]
        assert (mine.status, mine.channel, mine.agency.code, mine.procedure.code) == (
            truth.status, truth.channel, truth.agency.code, truth.procedure.code)
        assert mine.received_at == truth.received_at.replace(second=0)
        assert mine.status_raw in {"Đã trả kết quả", "Đã xử lý xong", "Đang xử lý",
                                   "Yêu cầu bổ sung", "Rút hồ sơ", "Không được tiếp nhận"}


def test_the_same_export_twice_adds_nothing(sim_and_ws, tmp_path):
    sim, ws = sim_and_ws
    path = sim.dvcqg.export_xls(tmp_path / "a.xls", sim.period)
    ws.import_file("dvcqg", path)
    assert ws.import_file("dvcqg", path).snapshot.versions_added == 0


@pytest.mark.parametrize(("content", "message"), [
    ("<table><tr><th>Mã hồ sơ</th></tr><tr><td>X</td></tr></table>", "thiếu cột “Mã đơn vị”"),
    ("Mã hồ sơ;Mã đơn vị;Kênh tiếp nhận;Trạng thái;Ngày tiếp nhận\n"
     "X;001;Trực tuyến;Xong rồi;01/11/2025 08:00\n", "Trạng thái hồ sơ không xác định"),
    ("Mã hồ sơ,Mã đơn vị,Kênh tiếp nhận,Trạng thái,Ngày tiếp nhận\n"
     "X,001,Trực tuyến,Đang xử lý,2025-11-01\n", "dòng 2"),
])
def test_a_bad_export_names_the_problem_and_loses_nothing(sim_and_ws, tmp_path, content, message):
    _sim, ws = sim_and_ws
    path = tmp_path / "bad.csv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(DataError, match=message):
        ws.import_file("dvcqg", path)
    assert ws.store.snapshots() == []


def test_binary_excel_97_is_refused_with_advice(sim_and_ws, tmp_path):
    _, ws = sim_and_ws
    path = tmp_path / "old.xls"
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100)
    with pytest.raises(DataError, match=r"lưu lại dạng \.xlsx"):
        ws.import_file("dvcqg", path)
