"""The one-stop system's REST API (iGate model) and its login-free statistics page.

Paths, parameters and mappings are those of sources.md; every modeled path
can be overridden. Parsers raise `DataError` on anything unexpected.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

import attrs

from nq57sync import vi, wire
from nq57sync.codes import Channel, Status, channel_from_name
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
#: The national part (`MaTTHC`) of a procedure code with a local suffix
#: (`1.001612.000.00.00.H48` → `1.001612`).
PROCEDURE_CODE_PATTERN = r"^\d+\.\d{6}"
#: Fixed search parameters every observed client sends (sources.md).
SEARCH_PARAMS = {"isAgencySearch": "true", "sort": "updatedDate,desc"}
PAGE_SPECS = ("page", "slice")
DATE_ENCODINGS = ("local_z", "utc")
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
class Codes:
    """How a deployment's codes read onto the national ones (`status_map`, `channel_map`,
    `procedure_code_pattern`)."""

    status_map: Mapping[int, Status] = attrs.field(factory=lambda: dict(STATUS_MAP))
    channel_map: Mapping[int, Channel] = attrs.field(factory=lambda: dict(CHANNEL_MAP))
    procedure_code: re.Pattern[str] = attrs.field(
        factory=lambda: re.compile(PROCEDURE_CODE_PATTERN))

    def national_procedure(self, code: str) -> str:
        """The national part of a procedure code; a code the pattern does not match is kept."""
        found = self.procedure_code.match(code)
        return found.group(0) if found else code


DEFAULT_CODES = Codes()


@attrs.frozen
class Api:
    api_url: str
    root_agency_id: str
    agency_tag_id: str = ""
    public_url: str = ""
    paths: Mapping[str, str] = attrs.field(factory=lambda: dict(PATHS))
    page_size: int = 200
    search_params: Mapping[str, str] = attrs.field(factory=lambda: dict(SEARCH_PARAMS))
    statistics_params: Mapping[str, str] = attrs.field(factory=dict)
    page_spec: str = "page"
    date_encoding: str = "local_z"
    codes: Codes = DEFAULT_CODES

    def _get(self, client: SourceClient, auth: Authenticator, path: str,
             params: Mapping[str, Any]) -> Any:
        return client.json("GET", self.api_url.rstrip("/") + self.paths[path], service=path,
                           params=params, auth=auth)

    def range_values(self, start: dt.date, end: dt.date) -> tuple[str, str]:
        """A range of local days as the deployment reads it (`date_encoding`).

        `local_z`: the local date with `T00:00:00.000Z` / `T23:59:59.999Z` appended, as the
        observed clients write it; `utc`: the true UTC instants of the local day's bounds.
        """
        if self.date_encoding == "local_z":
            return f"{start:%Y-%m-%d}T00:00:00.000Z", f"{end:%Y-%m-%d}T23:59:59.999Z"
        first, last = wire.day_bounds(start, end)
        return wire.utc_z(first), wire.utc_z(last)

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
                                    translated(record, "name", "Đơn vị"),
                                    wire.text(record, "id", "Đơn vị", required=True)))
            if last or not items:
                return found
            params = {**params, "page": int(params["page"]) + 1}

    def statistics_query(self, period: Period, agency_id: str = "") -> dict[str, Any]:
        start, end = self.range_values(period.start, period.end)
        return {**self.statistics_params, "agency-id": agency_id or self.root_agency_id,
                "from-date": start, "to-date": end}

    def statistics(self, client: SourceClient, auth: Authenticator, period: Period,
                   agencies: tuple[str, ...] = ()) -> list[AggregateRow]:
        answer = self._get(client, auth, "statistics", self.statistics_query(period))
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

    def search_query(self, period: Period, agency_id: str, page: int, size: int) -> dict[str, Any]:
        """The observed search parameters (sources.md), the deployment's fixed ones first."""
        start, end = self.range_values(period.start, period.end)
        return {**self.search_params, "ancestor-agency-id": agency_id, "accepted-from": start,
                "accepted-to": end, "spec": self.page_spec, "page": page, "size": size}

    def dossiers(self, client: SourceClient, auth: Authenticator, period: Period,
                 agency_ids: list[str]) -> Iterator[DossierPage]:
        for agency_id in agency_ids:
            yield from checked_listing(self._listing(client, auth, period, agency_id), period)

    def _listing(self, client: SourceClient, auth: Authenticator, period: Period,
                 agency_id: str) -> Iterator[DossierPage]:
        def fetch(number: int) -> tuple[Mapping[str, Any], list[Any]]:
            answer = self._get(client, auth, "search",
                               self.search_query(period, agency_id, number, self.page_size))
            items, _ = parse_spring_page(answer, f"Tìm kiếm hồ sơ, trang {number}")
            return wire.mapping(answer, "Tìm kiếm hồ sơ"), items

        def parsed(items: list[Any]) -> list[Dossier]:
            return [parse_dossier(item, self.codes) for item in items]

        if self.page_spec == "page":
            def page(number: int) -> tuple[int, list[Dossier]]:
                answer, items = fetch(number)
                if "totalElements" not in answer:
                    raise DataError(
                        "Hệ thống Một cửa trả trang hồ sơ không có totalElements dù đã hỏi "
                        "spec=page; hãy đặt page_spec = \"slice\" cho nguồn này.")
                return wire.count(answer["totalElements"], "totalElements"), parsed(items)

            yield from client.paged(page, 0, self.page_size, "Hệ thống Một cửa")
            return
        # A slice has no total: page on until `last`, an empty page, or a short page
        # when the answer does not say `last` at all.
        number = 0
        while True:
            answer, items = fetch(number)
            yield DossierPage(parsed(items), None)
            last = answer.get("last")
            if not items or last is True or (last is None and len(items) < self.page_size):
                return
            number += 1


def checked_listing(pages: Iterable[DossierPage], period: Period) -> Iterator[DossierPage]:
    """A listing's pages, refused when the answer cannot be the period's list.

    A page that only repeats codes already listed (a server answering the same
    page again, forever or once) and a listing where most codes are repeats are
    data errors, so a snapshot never collapses a list into a few dossiers; so is
    a dossier received outside the period asked for (the search filters by the
    date received: a range read a day off by the server, `date_encoding`).
    """
    seen: set[str] = set()
    listed = 0
    for n, page in enumerate(pages):
        codes = [d.code for d in page.dossiers]
        if codes and all(code in seen for code in codes):
            raise DataError(
                f"Hệ thống Một cửa, trang {n} của danh sách hồ sơ chỉ lặp lại các mã đã có ở trang "
                f"trước (ví dụ {codes[0]}); dừng để không lưu danh sách sai.")
        for d in page.dossiers:
            if d.received_at is not None and not period.contains(d.received_at.date()):
                raise DataError(
                    f"Hệ thống Một cửa trả hồ sơ {d.alt_code or d.code} tiếp nhận ngày "
                    f"{vi.date(d.received_at.date())}, ngoài kỳ {vi.date(period.start)}–"
                    f"{vi.date(period.end)} đã hỏi: máy chủ đọc khoảng ngày lệch (kiểm tra khóa "
                    "date_encoding, \"local_z\" hoặc \"utc\").")
        listed += len(codes)
        seen.update(codes)
        yield page
    if listed >= 4 and len(seen) * 2 < listed:
        raise DataError(
            f"Hệ thống Một cửa trả {vi.number(listed)} hồ sơ nhưng chỉ có {vi.number(len(seen))} "
            "mã khác nhau: danh sách lặp lại, không lưu ảnh chụp này.")


# -- parsers --------------------------------------------------------------------

def parse_spring_page(answer: Any, what: str) -> tuple[list[Any], bool]:
    page = wire.mapping(answer, what)
    items = wire.array(page.get("content"), f"{what}, content")
    last = page.get("last", True)
    if not isinstance(last, bool):
        raise DataError(f"{what}: trường last phải là true/false.")
    return items, last


def _coded(record: Mapping[str, Any], key: str, what: str) -> tuple[int | None, str]:
    """An `{id, name}` code: its id as a number (None when not numeric) and as written."""
    value = wire.mapping(record.get(key), f"{what}, {key}")
    code = value.get("id")
    if isinstance(code, bool) or not isinstance(code, (int, str)) or str(code).strip() == "":
        raise DataError(f"{what}: {key}.id không hợp lệ.")
    raw = str(code).strip()[:40]
    try:
        return int(raw), raw
    except ValueError:
        return None, raw


def translated(record: Mapping[str, Any], key: str, what: str) -> str:
    """A name given as a string, `{name}`, or a list of `{languageId, name}` (the first one
    with a name; Vietnamese, languageId 228, preferred)."""
    value = record.get(key)
    if isinstance(value, Mapping):
        return wire.text(value, "name", what)
    if isinstance(value, list):
        names = [item for item in value if isinstance(item, Mapping) and item.get("name")]
        names.sort(key=lambda item: item.get("languageId") not in (228, "228"))
        return wire.text(names[0], "name", what) if names else ""
    return wire.text(record, key, what)


#: The fields `parse_dossier` reads into columns (`Dossier.raw` keeps the others:
#: the record's id, the agency's id, the status and method names, the applied date).
_MAPPED: Mapping[str, Any] = {
    "code": True, "nationCode": True,
    "procedure": {"code": True, "name": True, "translate": True},
    "agency": {"code": True, "name": True}, "dossierStatus": {"id": True},
    "applyMethod": {"id": True}, "acceptedDate": True, "appointmentDate": True,
    "completedDate": True, "returnedDate": True, "updatedDate": True, "nationSyncedDate": True,
}
#: The same, when the procedure code carries a local suffix: `raw` keeps the local code.
_MAPPED_LOCAL_PROCEDURE: Mapping[str, Any] = {
    **_MAPPED, "procedure": {"name": True, "translate": True}}


def parse_dossier(item: Any, codes: Codes = DEFAULT_CODES) -> Dossier:
    """One iGate dossier onto the canonical model, local and national codes both kept.

    A status or channel id the maps do not name is not an error: the status is
    kept raw as `Status.UNMAPPED` (pending for the form), the channel read from
    the method's name when it is a known one, else counted at the counter, its
    raw id kept.
    """
    record = wire.mapping(item, "Hồ sơ Một cửa")
    local = wire.text(record, "code", "Hồ sơ Một cửa", required=True)
    what = f"Hồ sơ Một cửa {local[:40]}"
    nation = wire.text(record, "nationCode", what)
    status_id, status_raw = _coded(record, "dossierStatus", what)
    method_id, method_raw = _coded(record, "applyMethod", what)
    status = codes.status_map.get(status_id, Status.UNMAPPED) if status_id is not None else (
        Status.UNMAPPED)
    channel = codes.channel_map.get(method_id) if method_id is not None else None
    if channel is None:
        method = wire.mapping(record.get("applyMethod"), f"{what}, applyMethod")
        try:
            channel = channel_from_name(translated(method, "name", what))
        except DataError:
            channel = Channel.DIRECT
    agency = wire.mapping(record.get("agency"), f"{what}, agency")
    procedure = wire.mapping(record.get("procedure"), f"{what}, procedure")
    procedure_code = wire.text(procedure, "code", what)
    national = codes.national_procedure(procedure_code)
    name = translated(procedure, "translate", what) or translated(procedure, "name", what)
    return Dossier(
        code=nation or local,
        alt_code=local if nation and nation != local else None,
        agency=Agency(wire.text(agency, "code", what, required=True),
                      translated(agency, "name", what), wire.text(agency, "id", what) or None),
        procedure=Procedure(national, name),
        channel=channel, status=status,
        channel_raw=method_raw, status_raw=status_raw,
        received_at=wire.instant(record.get("acceptedDate"), f"{what}, acceptedDate"),
        due_at=wire.instant(record.get("appointmentDate"), f"{what}, appointmentDate"),
        finished_at=wire.instant(record.get("completedDate"), f"{what}, completedDate"),
        returned_at=wire.instant(record.get("returnedDate"), f"{what}, returnedDate"),
        updated_at=wire.instant(record.get("updatedDate"), f"{what}, updatedDate"),
        synced_at=wire.instant(record.get("nationSyncedDate"), f"{what}, nationSyncedDate"),
        raw=wire.unmapped(record, _MAPPED if national == procedure_code
                          else _MAPPED_LOCAL_PROCEDURE),
    )


def parse_statistics(answer: Any, period: Period) -> list[AggregateRow]:
    rows = []
    for n, item in enumerate(wire.array(answer, "Thống kê Một cửa"), 1):
        where = f"Thống kê Một cửa, dòng {n}"
        record = wire.mapping(item, where)
        agency = wire.mapping(record.get("agency"), f"{where}, agency")
        metrics = {m: wire.count(record.get(f, 0), f"{where}, {f}") for m, f in STAT_FIELDS.items()}
        rows.append(AggregateRow(
            Agency(wire.text(agency, "code", where, required=True), translated(agency, "name", where),
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


