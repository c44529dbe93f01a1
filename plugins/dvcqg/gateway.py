"""DVCQG's `rest.jsp` gateway and the parsers of its answers (sources.md).

Every call is a form POST whose one field `params` holds JSON; answers are an
array, or `{"TOTAL", "ROW"}`, with numbers as strings. Each parser raises
`DataError` on anything else.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

import attrs

from nq57sync import wire
from nq57sync.errors import DataError, PeriodError
from nq57sync.hooktypes import DossierPage
from nq57sync.http import SourceClient
from nq57sync.model import METRICS, Agency, AggregateRow, Dossier, IndexScore
from nq57sync.package import PACKAGE_FIELDS, dossier_from_package
from nq57sync.period import Period

SERVICES = {
    "index": "report_tinh_766_service",
    "monthly": "report_by_month_sum_service",
    "dossiers": "dossier_sync_search_service",
}
MONTHLY_FIELDS = {
    "agency_code": "MA_COQUAN", "agency_name": "TEN_COQUAN", "year": "NAM", "month": "THANG",
    "carried_over": "KY_TRUOC", "received_online": "NHAN_TRUCTUYEN",
    "received_direct": "NHAN_TRUCTIEP", "received_postal": "NHAN_BUUCHINH",
    "received_total": "TONG_NHAN", "resolved_early": "GQ_TRUOCHAN",
    "resolved_on_time": "GQ_DUNGHAN", "resolved_late": "GQ_QUAHAN", "resolved_total": "DA_GQ",
    "pending_in_time": "DANG_GQ_TRONGHAN", "pending_overdue": "DANG_GQ_QUAHAN",
    "pending_total": "DANG_GQ", "withdrawn": "RUT_HS", "rejected": "TU_CHOI",
}
INDEX_GROUPS = ("CKMB", "TDGQ", "TTTT", "CLGQ", "MDHL", "MDSH")


@attrs.frozen
class Gateway:
    """How to reach one portal; every modeled name can be overridden."""

    base_url: str
    province_id: str
    rest_path: str = "/jsp/rest.jsp"
    referer_path: str = "/p/home/dvc-trang-chu.html"
    services: Mapping[str, str] = attrs.field(factory=lambda: dict(SERVICES))
    monthly_fields: Mapping[str, str] = attrs.field(factory=lambda: dict(MONTHLY_FIELDS))
    dossier_fields: Mapping[str, str] = attrs.field(factory=lambda: dict(PACKAGE_FIELDS))
    page_size: int = 500

    def call(self, client: SourceClient, service: str, **params: Any) -> Any:
        name = self.services[service]
        return client.json(
            "POST", self.base_url.rstrip("/") + self.rest_path, service=name,
            data={"params": json.dumps({"type": "ref", "service": name, **params},
                                       ensure_ascii=False)},
            headers={"X-Requested-With": "XMLHttpRequest",
                     "Referer": self.base_url.rstrip("/") + self.referer_path},
        )

    # -- the services -------------------------------------------------------

    def monthly(self, client: SourceClient, period: Period,
                agencies: tuple[str, ...] = ()) -> list[AggregateRow]:
        months = set(period.calendar_months())
        rows: list[AggregateRow] = []
        for year in sorted({y for y, _ in months}):
            answer = self.call(client, "monthly", p_nam=str(year), p_tinh_id=self.province_id,
                               p_huyen_id="", p_thang="0", p_linhvuc=0)
            parsed = parse_monthly(answer, self.monthly_fields)
            stray = next((r for r in parsed if r.period.start.year != year), None)
            if stray is not None:  # an answer for another year: never silently dropped
                raise DataError(
                    f"Cổng DVCQG trả số liệu tháng {stray.period.start.month}/"
                    f"{stray.period.start.year} của {stray.agency.code} khi được hỏi năm {year}; "
                    "không lưu câu trả lời này.", source=client.source)
            rows += [r for r in parsed
                     if (r.period.start.year, r.period.start.month) in months
                     and (not agencies or r.agency.code in agencies)]
        return rows

    def index(self, client: SourceClient, period: Period) -> list[IndexScore]:
        month = period.end.month if period.convention == "calendar" and period.days <= 31 else 0
        scores: list[IndexScore] = []
        page = 1
        while True:
            answer = self.call(client, "index", p_nam=str(period.end.year), p_6thang=0, p_quy=0,
                               p_thang=month, p_tinh_id=self.province_id, p_loaidonvi=1,
                               loaichitieu=0, pageIndex=page, pageSize=self.page_size)
            batch = parse_index(answer)
            scores += batch
            if len(batch) < self.page_size:
                return scores
            page += 1

    def dossiers(self, client: SourceClient, period: Period,
                 agencies: tuple[str, ...] = ()) -> Iterator[DossierPage]:
        for agency in agencies or ("",):
            def page(index: int, agency: str = agency) -> tuple[int, list[Dossier]]:
                answer = self.call(
                    client, "dossiers", p_tinh_id=self.province_id, p_ma_dinh_danh=agency,
                    p_tungay=f"{period.start:%d/%m/%Y}", p_denngay=f"{period.end:%d/%m/%Y}",
                    pageIndex=index, pageSize=self.page_size)
                return parse_dossier_page(answer, self.dossier_fields, f"trang {index}")

            yield from client.paged(page, 1, self.page_size, "DVCQG")


# -- parsers ------------------------------------------------------------------

def rows_of(answer: Any, what: str) -> list[Any]:
    """An answer as an array, or the ROW of `{"TOTAL", "ROW"}`."""
    if isinstance(answer, Mapping) and "ROW" in answer:
        return wire.array(answer["ROW"], what)
    return wire.array(answer, what)


def parse_monthly(answer: Any, fields: Mapping[str, str] = MONTHLY_FIELDS) -> list[AggregateRow]:
    f = {**MONTHLY_FIELDS, **fields}
    rows = []
    for n, item in enumerate(rows_of(answer, "Số liệu theo tháng của DVCQG"), 1):
        where = f"Số liệu theo tháng của DVCQG, dòng {n}"
        record = wire.mapping(item, where)
        year, month = wire.count(record.get(f["year"]), where), wire.count(record.get(f["month"]), where)
        try:
            period = Period.parse(f"{year:04d}-{month:02d}")
        except PeriodError:
            raise DataError(f"{where}: tháng {month}/{year} không hợp lệ.") from None
        rows.append(AggregateRow(
            Agency(wire.text(record, f["agency_code"], where, required=True),
                   wire.text(record, f["agency_name"], where)),
            period,
            **{m: wire.count(record.get(f[m], 0), f"{where}, {f[m]}") for m in METRICS},
        ))
    return rows


def parse_index(answer: Any) -> list[IndexScore]:
    scores = []
    for n, item in enumerate(rows_of(answer, "Bộ chỉ số 766"), 1):
        where = f"Bộ chỉ số 766, dòng {n}"
        record = wire.mapping(item, where)
        rank = record.get("ROW_STT")
        scores.append(IndexScore(
            unit_id=wire.text(record, "ID", where, required=True),
            name=wire.text(record, "TEN", where),
            agency_code=wire.text(record, "MA_COQUAN", where),
            level=wire.count(record.get("CAPDONVIID", 0), where),
            rank=None if rank in (None, "") else wire.count(rank, where),
            groups={g: wire.score(record[g], f"{where}, {g}") for g in INDEX_GROUPS if g in record},
            total=wire.score(record.get("TONG_SCORE", 0), f"{where}, TONG_SCORE"),
        ))
    return scores


def parse_dossier_page(answer: Any, fields: Mapping[str, str] = PACKAGE_FIELDS,
                       where: str = "") -> tuple[int, list[Dossier]]:
    what = f"Danh sách hồ sơ DVCQG {where}".strip()
    record = wire.mapping(answer, what)
    total = wire.count(record.get("TOTAL", 0), f"{what}, TOTAL")
    rows = wire.array(record.get("ROW", []), f"{what}, ROW")
    return total, [dossier_from_package(r, fields, where=f", {what}") for r in rows]
