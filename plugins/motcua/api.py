"""The one-stop system's REST API (iGate model) and its login-free statistics page.

Paths, parameters and mappings are those of sources.md; every modeled path
can be overridden. Parsers raise `DataError` on anything unexpected.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

import attrs

from nq57sync import wire
from nq57sync.codes import Channel, Status
from nq57sync.errors import DataError
from nq57sync.hooktypes import DossierPage
from nq57sync.http import Authenticator, SourceClient, UnexpectedAnswer, first_line
from nq57sync.model import METRICS, Agency, AggregateRow, Dossier, Procedure
from nq57sync.period import Period

if TYPE_CHECKING:
    import httpx

PATHS = {
    "agencies": "/ba/agency/name+code",
    "statistics": "/pa/dossier-statistic/--statistic-agency",
    "search": "/pa/dossier/search",
    "public": "/thong-ke",
}
#: iGate dossierStatus id → national TrangThaiHoSo (sources.md).
STATUS_MAP = {0: Status.SUBMITTED, 1: Status.RECEIVED, 2: Status.IN_PROCESS,
              3: Status.SUPPLEMENT_REQUESTED, 4: Status.FINANCIAL_OBLIGATION, 5: Status.FINISHED,
              6: Status.RETURNED, 7: Status.WITHDRAWAL_REQUESTED, 8: Status.STOPPED,
              9: Status.NOT_RECEIVED}
#: iGate applyMethod id → national KenhThucHien.
CHANNEL_MAP = {0: Channel.ONLINE, 1: Channel.DIRECT, 2: Channel.POSTAL}
STAT_FIELDS = {
    "carried_over": "previousPeriod", "received_online": "receivedOnline",
    "received_direct": "receivedDirect", "received_postal": "receivedPostal",
    "resolved_early": "resolvedEarly", "resolved_on_time": "resolvedOnTime",
    "resolved_late": "resolvedOverdue", "pending_in_time": "unresolvedOnTime",
    "pending_overdue": "unresolvedOverdue", "withdrawn": "withdrawn", "rejected": "rejected",
}
#: Column order of the public page after STT, Đơn vị, Mã đơn vị.
PUBLIC_METRICS = ("carried_over", "received_online", "received_direct", "received_postal",
                  "received_total", "resolved_early", "resolved_on_time", "resolved_late",
                  "resolved_total", "pending_in_time", "pending_overdue", "pending_total",
                  "withdrawn", "rejected")


def with_totals(metrics: dict[str, int]) -> dict[str, int]:
    """iGate publishes the parts; the standard form also wants the totals."""
    return {
        **metrics,
        "received_total": metrics["carried_over"] + metrics["received_online"]
        + metrics["received_direct"] + metrics["received_postal"],
        "resolved_total": metrics["resolved_early"] + metrics["resolved_on_time"]
        + metrics["resolved_late"],
        "pending_total": metrics["pending_in_time"] + metrics["pending_overdue"],
    }


@attrs.frozen
class Api:
    api_url: str
    root_agency_id: str
    agency_tag_id: str = ""
    public_url: str = ""
    paths: Mapping[str, str] = attrs.field(factory=lambda: dict(PATHS))
    page_size: int = 200

    def _get(self, client: SourceClient, auth: Authenticator, path: str,
             params: Mapping[str, Any]) -> Any:
        return client.json("GET", self.api_url.rstrip("/") + self.paths[path], service=path,
                           params=params, auth=auth)

    def agencies(self, client: SourceClient, auth: Authenticator) -> list[Agency]:
        params = {"ancestor-id": self.root_agency_id, "page": 0, "size": 2000}
        if self.agency_tag_id:
            params["tag-id"] = self.agency_tag_id
        found: list[Agency] = []
        while True:
            page = self._get(client, auth, "agencies", params)
            items, last = parse_spring_page(page, "Danh sách đơn vị")
            for n, item in enumerate(items, 1):
                record = wire.mapping(item, f"Danh sách đơn vị, mục {n}")
                found.append(Agency(wire.text(record, "code", "Đơn vị", required=True),
                                    wire.text(record, "name", "Đơn vị"),
                                    wire.text(record, "id", "Đơn vị", required=True)))
            if last or not items:
                return found
            params = {**params, "page": int(params["page"]) + 1}

    def statistics(self, client: SourceClient, auth: Authenticator, period: Period,
                   agencies: tuple[str, ...] = ()) -> list[AggregateRow]:
        start, end = wire.day_bounds(period.start, period.end)
        answer = self._get(client, auth, "statistics", {
            "agency-id": self.root_agency_id, "from-date": wire.utc_z(start),
            "to-date": wire.utc_z(end)})
        rows = parse_statistics(answer, period)
        return [r for r in rows if not agencies or r.agency.code in agencies]

    def public_statistics(self, client: SourceClient, period: Period,
                          agencies: tuple[str, ...] = ()) -> list[AggregateRow]:
        def parse(response: httpx.Response) -> list[AggregateRow]:
            # A maintenance page (often with status 200) has no statistics table:
            # the client retries it like a 503 instead of failing the sync.
            if 'id="thong-ke"' not in response.text and "id='thong-ke'" not in response.text:
                raise UnexpectedAnswer(first_line(response.text), "không phải trang thống kê")
            return parse_public_page(response.text, period)

        rows = client.request(
            "GET", self.public_url.rstrip("/") + self.paths["public"], service="thong-ke",
            params={"tu-ngay": f"{period.start:%d/%m/%Y}", "den-ngay": f"{period.end:%d/%m/%Y}"},
            parse=parse)
        return [r for r in rows if not agencies or r.agency.code in agencies]

    def dossiers(self, client: SourceClient, auth: Authenticator, period: Period,
                 agency_ids: list[str]) -> Iterator[DossierPage]:
        start, end = wire.day_bounds(period.start, period.end)
        for agency_id in agency_ids:
            def page(number: int, agency_id: str = agency_id) -> tuple[int, list[Dossier]]:
                answer = self._get(client, auth, "search", {
                    "agency-id": agency_id, "from-accepted-date": wire.utc_z(start),
                    "to-accepted-date": wire.utc_z(end), "page": number, "size": self.page_size})
                items, _ = parse_spring_page(answer, f"Tìm kiếm hồ sơ, trang {number}")
                total = wire.count(answer.get("totalElements", len(items)), "totalElements")
                return total, [parse_dossier(item) for item in items]

            yield from client.paged(page, 0, self.page_size, "Hệ thống Một cửa")


# -- parsers --------------------------------------------------------------------

def parse_spring_page(answer: Any, what: str) -> tuple[list[Any], bool]:
    page = wire.mapping(answer, what)
    items = wire.array(page.get("content"), f"{what}, content")
    last = page.get("last", True)
    if not isinstance(last, bool):
        raise DataError(f"{what}: trường last phải là true/false.")
    return items, last


def _coded(record: Mapping[str, Any], key: str, what: str) -> tuple[int, str]:
    value = wire.mapping(record.get(key), f"{what}, {key}")
    code = value.get("id")
    if isinstance(code, bool) or not isinstance(code, (int, str)):
        raise DataError(f"{what}: {key}.id không hợp lệ.")
    try:
        return int(code), str(code)
    except ValueError:
        raise DataError(f"{what}: {key}.id “{str(code)[:20]}” không phải số.") from None


#: The fields `parse_dossier` reads into columns (`Dossier.raw` keeps the others:
#: the record's id, the agency's id, the status and method names, the applied date).
_MAPPED: Mapping[str, Any] = {
    "code": True, "nationCode": True, "procedure": {"code": True, "name": True},
    "agency": {"code": True, "name": True}, "dossierStatus": {"id": True},
    "applyMethod": {"id": True}, "acceptedDate": True, "appointmentDate": True,
    "completedDate": True, "returnedDate": True, "updatedDate": True, "nationSyncedDate": True,
}


def parse_dossier(item: Any) -> Dossier:
    """One iGate dossier onto the canonical model, local and national codes both kept."""
    record = wire.mapping(item, "Hồ sơ Một cửa")
    local = wire.text(record, "code", "Hồ sơ Một cửa", required=True)
    what = f"Hồ sơ Một cửa {local[:40]}"
    nation = wire.text(record, "nationCode", what)
    status_id, status_raw = _coded(record, "dossierStatus", what)
    method_id, method_raw = _coded(record, "applyMethod", what)
    if status_id not in STATUS_MAP:
        raise DataError(f"{what}: trạng thái iGate {status_id} không có trong bảng ánh xạ.")
    if method_id not in CHANNEL_MAP:
        raise DataError(f"{what}: hình thức nộp iGate {method_id} không có trong bảng ánh xạ.")
    agency = wire.mapping(record.get("agency"), f"{what}, agency")
    procedure = wire.mapping(record.get("procedure"), f"{what}, procedure")
    return Dossier(
        code=nation or local,
        alt_code=local if nation and nation != local else None,
        agency=Agency(wire.text(agency, "code", what, required=True), wire.text(agency, "name", what),
                      wire.text(agency, "id", what) or None),
        procedure=Procedure(wire.text(procedure, "code", what), wire.text(procedure, "name", what)),
        channel=CHANNEL_MAP[method_id], status=STATUS_MAP[status_id],
        channel_raw=method_raw, status_raw=status_raw,
        received_at=wire.instant(record.get("acceptedDate"), f"{what}, acceptedDate"),
        due_at=wire.instant(record.get("appointmentDate"), f"{what}, appointmentDate"),
        finished_at=wire.instant(record.get("completedDate"), f"{what}, completedDate"),
        returned_at=wire.instant(record.get("returnedDate"), f"{what}, returnedDate"),
        updated_at=wire.instant(record.get("updatedDate"), f"{what}, updatedDate"),
        synced_at=wire.instant(record.get("nationSyncedDate"), f"{what}, nationSyncedDate"),
        raw=wire.unmapped(record, _MAPPED),
    )


def parse_statistics(answer: Any, period: Period) -> list[AggregateRow]:
    rows = []
    for n, item in enumerate(wire.array(answer, "Thống kê Một cửa"), 1):
        where = f"Thống kê Một cửa, dòng {n}"
        record = wire.mapping(item, where)
        agency = wire.mapping(record.get("agency"), f"{where}, agency")
        metrics = {m: wire.count(record.get(f, 0), f"{where}, {f}") for m, f in STAT_FIELDS.items()}
        rows.append(AggregateRow(
            Agency(wire.text(agency, "code", where, required=True), wire.text(agency, "name", where),
                   wire.text(agency, "id", where) or None),
            period, **with_totals(metrics)))
    return rows


def parse_public_page(text: str, period: Period) -> list[AggregateRow]:
    """The `<table id="thong-ke">` of the public page; the "Tổng cộng" row is skipped."""
    if not isinstance(text, str) or not text.strip():
        raise DataError("Trang thống kê công khai rỗng.")
    import lxml.etree  # only this page needs it; every command loads the plugin
    import lxml.html

    try:
        document = lxml.html.fromstring(text)
    except (lxml.etree.ParserError, ValueError):
        raise DataError("Trang thống kê công khai không phải HTML đọc được.") from None
    tables = document.xpath("//table[@id='thong-ke']")
    if not tables:
        raise DataError("Trang thống kê công khai không có bảng id=\"thong-ke\".")
    rows = []
    for n, tr in enumerate(tables[0].xpath(".//tr[td]"), 1):
        cells = [" ".join(td.text_content().split()) for td in tr.xpath("./td")]
        if len(cells) >= 2 and cells[1].casefold() == "tổng cộng":
            continue
        if len(cells) < 3 + len(PUBLIC_METRICS):
            raise DataError(f"Trang thống kê công khai, dòng {n}: thiếu cột "
                            f"({len(cells)} thay vì {3 + len(PUBLIC_METRICS)}).")
        where = f"Trang thống kê công khai, dòng {n}"
        values = {m: wire.count(cells[3 + i], f"{where}, cột {4 + i}")
                  for i, m in enumerate(PUBLIC_METRICS)}
        if not cells[2]:
            raise DataError(f"{where}: thiếu mã đơn vị.")
        rows.append(AggregateRow(Agency(cells[2], cells[1]), period,
                                 **{m: values[m] for m in METRICS}))
    return rows


