"""The national portal on loopback: `rest.jsp` services and .xls exports (sources.md)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

from nq57sync.codes import CHANNEL_NAMES_VI, STATUS_NAMES_VI
from nq57sync.model import VN_TZ, Dossier
from nq57sync.package import dossier_to_package
from nq57sync.period import Period
from nq57sync.simulators.dataset import Province
from nq57sync.simulators.exports import write_table
from nq57sync.simulators.server import Faults, Request, Response, SimServer

#: 766 group maxima (domain.md gives CKMB, TDGQ, MDHL, MDSH and the total; the rest modeled).
INDEX_MAXIMA = {"CKMB": 18, "TDGQ": 20, "TTTT": 12, "CLGQ": 10, "MDHL": 18, "MDSH": 22}

# Written from sources.md, not imported from the plugin: the simulator is the
# contract's second, independent reading, so a plugin typo cannot pass unnoticed.
MONTHLY_FIELDS = {
    "carried_over": "KY_TRUOC", "received_online": "NHAN_TRUCTUYEN",
    "received_direct": "NHAN_TRUCTIEP", "received_postal": "NHAN_BUUCHINH",
    "received_total": "TONG_NHAN", "resolved_early": "GQ_TRUOCHAN",
    "resolved_on_time": "GQ_DUNGHAN", "resolved_late": "GQ_QUAHAN", "resolved_total": "DA_GQ",
    "pending_in_time": "DANG_GQ_TRONGHAN", "pending_overdue": "DANG_GQ_QUAHAN",
    "pending_total": "DANG_GQ", "withdrawn": "RUT_HS", "rejected": "TU_CHOI",
}

EXPORT_COLUMNS = ("Mã hồ sơ", "Mã TTHC", "Tên TTHC", "Mã đơn vị", "Tên đơn vị", "Kênh tiếp nhận",
                  "Trạng thái", "Ngày tiếp nhận", "Ngày hẹn trả", "Ngày kết thúc xử lý",
                  "Ngày trả kết quả")


def index_scores(province: Province, year: int, month: int) -> list[dict[str, str]]:
    """Deterministic 766 lines that drift a little from month to month."""
    rows = []
    for unit, agency in enumerate(province.agencies, 1):
        groups = {}
        for group, top in INDEX_MAXIMA.items():
            seed = f"{province.seed}:{agency.code}:{group}:{year}".encode()
            base = int.from_bytes(hashlib.blake2b(seed, digest_size=4).digest(), "big") % 1000
            drift = ((month * 37 + unit * 11 + len(group)) % 9) / 100
            groups[group] = round(top * min(1.0, 0.55 + base / 2500 + drift), 2)
        rows.append({"ID": str(unit), "TEN": agency.name, "MA_COQUAN": agency.code,
                     "CAPDONVIID": "2", **{k: f"{v:.2f}" for k, v in groups.items()},
                     "TONG_SCORE": f"{sum(groups.values()):.2f}"})
    rows.sort(key=lambda r: -float(r["TONG_SCORE"]))
    for rank, row in enumerate(rows, 1):
        row["ROW_STT"] = str(rank)
    return rows


def package_record(dossier: Dossier) -> dict[str, str]:
    return dossier_to_package(dossier)


class DvcqgSimulator(SimServer):
    fault_kinds = ("latency", "http_500", "http_429", "drop", "truncate", "html_200")

    def __init__(self, province: Province, faults: Faults | None = None,
                 province_id: str = "31") -> None:
        super().__init__(faults)
        self.province = province
        self.province_id = province_id

    def handle(self, request: Request) -> Response:
        if request.path != "/jsp/rest.jsp" or request.method != "POST":
            return Response.html("<html><body>Không tìm thấy trang</body></html>", 404)
        params = json.loads(request.form["params"])
        if params.get("type") != "ref":
            return Response.html("<html><body>Yêu cầu không hợp lệ</body></html>", 200)
        service = params.get("service")
        if service == "report_tinh_766_service":
            rows = index_scores(self.province, int(params["p_nam"]), int(params.get("p_thang", 0)))
            size, index = int(params.get("pageSize", 1000)), int(params.get("pageIndex", 1))
            return Response.json(rows[(index - 1) * size: index * size])
        if service == "report_by_month_sum_service":
            return Response.json(self._monthly(params))
        if service == "dossier_sync_search_service":
            return Response.json(self._dossiers(params))
        return Response.html("<html><body>Dịch vụ không tồn tại</body></html>", 200)

    def _monthly(self, params: dict[str, str]) -> list[dict[str, str]]:
        year, wanted = int(params["p_nam"]), int(params.get("p_thang") or 0)
        rows = []
        for month in range(1, 13):
            if wanted and month != wanted:
                continue
            period = Period.parse(f"{year}-{month:02d}")
            if period.start > self.province.as_of.date():
                break
            published = self.cached(("monthly", period), self.province.revision,
                                    lambda period=period: self.province.published("dvcqg", period))
            for code, figures in sorted(published.items()):
                rows.append({"MA_COQUAN": code, "TEN_COQUAN": self.province.agency(code).name,
                             "NAM": str(year), "THANG": str(month),
                             **{wire: str(figures[m]) for m, wire in MONTHLY_FIELDS.items()}})
        return rows

    def _dossiers(self, params: dict[str, str]) -> dict[str, object]:
        start = dt.datetime.strptime(params["p_tungay"], "%d/%m/%Y").date()
        end = dt.datetime.strptime(params["p_denngay"], "%d/%m/%Y").date()
        agency = params.get("p_ma_dinh_danh") or ""
        found = self.cached(("dossiers", start, end, agency), self.province.revision, lambda: sorted(
            (d for d in self.province.portal.values()
             if d.received_at and start <= d.received_at.date() <= end
             and (not agency or d.agency.code == agency)),
            key=lambda d: d.code))
        index, size = int(params.get("pageIndex", 1)), int(params.get("pageSize", 100))
        page = found[(index - 1) * size: index * size]
        return {"TOTAL": str(len(found)), "ROW": [package_record(d) for d in page]}

    # -- exports ------------------------------------------------------------

    def export_xls(self, path: Path, period: Period, agency: str | None = None) -> Path:
        """The management page's download: an HTML table saved as .xls."""
        return write_table(path, EXPORT_COLUMNS, export_rows(self.province, period, agency))

    def export(self, path: Path, period: Period, agency: str | None = None) -> Path:
        """The dossier list in the format `path`'s suffix names (.xls, .xlsx, .csv)."""
        return write_table(path, EXPORT_COLUMNS, export_rows(self.province, period, agency))


def export_rows(province: Province, period: Period, agency: str | None = None) -> list[list[str]]:
    def when(value: dt.datetime | None) -> str:
        return "" if value is None else value.astimezone(VN_TZ).strftime("%d/%m/%Y %H:%M")

    rows = []
    for d in sorted(province.portal.values(), key=lambda d: d.code):
        if d.received_at and period.contains(d.received_at.date()) and (
                agency is None or d.agency.code == agency):
            rows.append([d.code, d.procedure.code, d.procedure.name, d.agency.code, d.agency.name,
                         CHANNEL_NAMES_VI[d.channel], STATUS_NAMES_VI[d.status],
                         when(d.received_at), when(d.due_at), when(d.finished_at),
                         when(d.returned_at)])
    return rows


__all__ = ["EXPORT_COLUMNS", "INDEX_MAXIMA", "MONTHLY_FIELDS", "DvcqgSimulator", "export_rows",
           "index_scores"]
