"""The city one-stop system on loopback, modeled on VNPT iGate (sources.md).

Keycloak token endpoint, the agency tree, published statistics, the dossier
search with Spring pages, and the login-free public statistics page.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import html
import secrets
import threading
from collections.abc import Mapping
from pathlib import Path

import attrs

from nq57sync import vi
from nq57sync.codes import Channel, Status
from nq57sync.model import METRICS, VN_TZ
from nq57sync.period import Period
from nq57sync.simulators.dataset import OneStopDossier, Province
from nq57sync.simulators.exports import write_table
from nq57sync.simulators.server import Faults, Request, Response, SimServer

#: National TrangThaiHoSo → iGate dossierStatus id, and names (inverse of sources.md).
IGATE_STATUS = {
    Status.SUBMITTED: (0, "Chờ tiếp nhận"), Status.RECEIVED: (1, "Đã tiếp nhận"),
    Status.IN_PROCESS: (2, "Đang xử lý"), Status.SUPPLEMENT_REQUESTED: (3, "Yêu cầu bổ sung"),
    Status.FINANCIAL_OBLIGATION: (4, "Chờ thực hiện nghĩa vụ tài chính"),
    Status.FINISHED: (5, "Có kết quả"), Status.RETURNED: (6, "Đã trả kết quả"),
    Status.WITHDRAWAL_REQUESTED: (7, "Đã rút hồ sơ"), Status.STOPPED: (8, "Dừng xử lý"),
    Status.NOT_RECEIVED: (9, "Không được tiếp nhận"),
}
IGATE_METHOD = {Channel.ONLINE: (0, "Trực tuyến"), Channel.DIRECT: (1, "Trực tiếp"),
                Channel.POSTAL: (2, "Bưu chính công ích")}
# Written from sources.md, not imported from the plugin: the simulator is the
# contract's second, independent reading, so a plugin typo cannot pass unnoticed.
STAT_FIELDS = {
    "carried_over": "previousPeriod", "received_online": "receivedOnline",
    "received_direct": "receivedDirect", "received_postal": "receivedPostal",
    "resolved_early": "resolvedEarly", "resolved_on_time": "resolvedOnTime",
    "resolved_late": "resolvedOverdue", "pending_in_time": "unresolvedOnTime",
    "pending_overdue": "unresolvedOverdue", "withdrawn": "withdrawn", "rejected": "rejected",
}
PUBLIC_COLUMNS = ("STT", "Đơn vị", "Mã đơn vị", "Kỳ trước chuyển qua", "Trực tuyến", "Trực tiếp",
                  "Bưu chính", "Tổng tiếp nhận", "Trước hạn", "Đúng hạn", "Quá hạn",
                  "Tổng đã giải quyết", "Trong hạn", "Quá hạn (đang giải quyết)",
                  "Tổng đang giải quyết", "Rút hồ sơ", "Từ chối")
PUBLIC_METRICS = ("carried_over", "received_online", "received_direct", "received_postal",
                  "received_total", "resolved_early", "resolved_on_time", "resolved_late",
                  "resolved_total", "pending_in_time", "pending_overdue", "pending_total",
                  "withdrawn", "rejected")

SSO_PREFIX, API_PREFIX, PUBLIC_PREFIX = "/sso", "/api", "/cong-khai"


def iso(value: dt.datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(VN_TZ).isoformat(timespec="milliseconds")


@attrs.frozen(kw_only=True)
class Deployment:
    """How one province's iGate answers (sources.md: observed facts vary by deployment).

    The search reads only the observed parameter names and ignores any other (as
    the real server does, so a client sending `agency-id` gets every agency).
    """

    name: str = "igate"
    #: The statistics path under the API (provinces add a suffix) and the fixed extra
    #: parameters it refuses to answer without (400, as a Spring controller does).
    statistics_path: str = "/pa/dossier-statistic/--statistic-agency"
    statistics_required: Mapping[str, str] = attrs.field(factory=dict)
    #: How range dates are read: "local_z" takes the date written before `T` as the
    #: local day (the zone letter ignored), "utc" reads true instants.
    date_encoding: str = "local_z"
    #: `procedure.translate` as "object" ({name}), "list" ([{languageId, name}]) or
    #: "name" (a plain `procedure.name`); agency names follow: a list when "list".
    translate: str = "object"
    #: Appended to national procedure codes (`1.001612` → `1.001612.000.00.00.H26`).
    procedure_suffix: str = ""
    #: National status → an iGate id of this deployment's own (and its name), used for
    #: every other dossier in that status.
    extra_statuses: Mapping[Status, tuple[int, str]] = attrs.field(factory=dict)
    #: Whether `spec=page` is honoured with totals; False answers slices only.
    page_totals: bool = True
    #: When the published figures' outcomes are counted: at the period's close
    #: ("period_end") or as of the request ("snapshot").
    figures_as_of: str = "period_end"


#: Observed deployments (sources.md); the first is the simulator's default.
DEPLOYMENTS: dict[str, Deployment] = {
    "igate": Deployment(procedure_suffix=".000.00.00.H26"),
    "kgg": Deployment(
        name="kgg", statistics_path="/pa/dossier-statistic/--statistic-agency-kgg",
        statistics_required={
            "agencyLevel0": "5f39f4a95224cf235e134c5c", "agencyLevel1": "5f39f4155224cf235e134c59",
            "agencyLevel2": "5febfe2295002b5c79f0fc9f", "procedureLevel2": "5f5b2c2b4e1bd312a6f3ae23",
            "procedureLevel3": "5f5b2c4b4e1bd312a6f3ae24", "procedureLevel4": "5f5b2c564e1bd312a6f3ae25",
            "suppended-cancelled": "true", "hide-agency-no-dossier": "false",
            "isOnlineAttachResults": "false", "isKGGReportCancel": "true"},
        translate="list", procedure_suffix=".000.00.00.H33", page_totals=False,
        extra_statuses={Status.IN_PROCESS: (16, "Đang thẩm định"),
                        Status.FINISHED: (17, "Đã có kết quả, chờ trả"),
                        Status.SUPPLEMENT_REQUESTED: (10, "Chờ công dân bổ sung"),
                        Status.STOPPED: (11, "Tạm dừng xử lý"),
                        Status.WITHDRAWAL_REQUESTED: (18, "Đã hủy")}),
    "utc": Deployment(name="utc", date_encoding="utc", translate="name"),
}


def _names(text: str, style: str) -> object:
    if style == "list":
        return [{"languageId": 228, "name": text}, {"languageId": 46, "name": ""}]
    if style == "object":
        return {"name": text}
    return text


def igate_record(item: OneStopDossier, deployment: Deployment | None = None) -> dict[str, object]:
    profile = deployment or Deployment()
    d = item.dossier
    status_id, status_name = IGATE_STATUS[d.status]
    extra = profile.extra_statuses.get(d.status)
    if extra is not None and hashlib.blake2b(item.local_code.encode(), digest_size=2).digest()[0] % 2:
        status_id, status_name = extra
    method_id, method_name = IGATE_METHOD[d.channel]
    procedure: dict[str, object] = {"id": hashlib.blake2b(d.procedure.code.encode(),
                                                          digest_size=12).hexdigest(),
                                    "code": d.procedure.code + profile.procedure_suffix}
    if profile.translate == "name":
        procedure["name"] = d.procedure.name
    else:
        procedure["translate"] = _names(d.procedure.name, profile.translate)
    return {
        "id": hashlib.blake2b(item.local_code.encode(), digest_size=6).hexdigest(),
        "code": item.local_code, "nationCode": item.nation_code,
        "procedure": procedure,
        "agency": {"id": item.agency_id, "code": d.agency.code,
                   "name": _names(d.agency.name, "list" if profile.translate == "list" else "name")},
        "applyMethod": {"id": method_id, "name": method_name},
        "dossierStatus": {"id": status_id, "name": status_name},
        "appliedDate": iso(item.applied_at), "acceptedDate": iso(d.received_at),
        "appointmentDate": iso(d.due_at), "completedDate": iso(d.finished_at),
        "returnedDate": iso(d.returned_at), "updatedDate": iso(d.updated_at),
        "nationSyncedDate": iso(d.synced_at),
    }


def spring_page(items: list, page: int, size: int, *, totals: bool = True) -> dict[str, object]:
    total = len(items)
    content = items[page * size: (page + 1) * size]
    pages = (total + size - 1) // size if size else 0
    if not totals:  # a Spring Slice: no totals, only whether more follow
        return {"content": content, "number": page, "size": size,
                "numberOfElements": len(content), "first": page == 0, "last": page >= pages - 1}
    return {"content": content, "totalElements": total, "totalPages": pages, "number": page,
            "size": size, "last": page >= pages - 1}


def _instant(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(VN_TZ)


def read_range(start: str | None, end: str | None, encoding: str
               ) -> tuple[dt.datetime | None, dt.datetime | None]:
    """A range as a deployment reads it (`Deployment.date_encoding`); None: unbounded."""
    def local_day(text: str, last: bool) -> dt.datetime:
        day = dt.date.fromisoformat(text.strip()[:10])
        return dt.datetime.combine(day, dt.time(23, 59, 59, 999000) if last else dt.time(0), VN_TZ)

    if encoding == "local_z":
        return (local_day(start, False) if start else None, local_day(end, True) if end else None)
    return (_instant(start) if start else None, _instant(end) if end else None)


class MotcuaSimulator(SimServer):
    fault_kinds = ("latency", "http_500", "http_429", "drop", "truncate", "html_200",
                   "token_expiry")

    def __init__(self, province: Province, faults: Faults | None = None, *,
                 realm: str = "digo", client_id: str = "web-onegate",
                 username: str = "canbo.motcua", password: str = "sim-password",
                 client_secret: str = "sim-client-secret", token_lifetime: int = 300,
                 deployment: Deployment | str = "igate") -> None:
        super().__init__(faults)
        self.province = province
        self.deployment = (DEPLOYMENTS[deployment] if isinstance(deployment, str)
                           else deployment)
        #: A hostile answer to serve on searches (tests of item 5): "year_9999" (one date
        #: per page in year 9999), "repeat_page" (every page is the first), "duplicates"
        #: (every item of a page is its first), or None.
        self.hostile: str | None = None
        self.realm, self.client_id = realm, client_id
        self.username, self.password, self.client_secret = username, password, client_secret
        self.token_lifetime = token_lifetime
        self._tokens: dict[str, int] = {}   # access token → requests made with it
        self._refresh: set[str] = set()
        self._lock = threading.Lock()
        self.logins = 0
        self.refreshes = 0

    # Base URLs a configuration points at.
    @property
    def sso_url(self) -> str:
        return self.url + SSO_PREFIX

    @property
    def api_url(self) -> str:
        return self.url + API_PREFIX

    @property
    def public_url(self) -> str:
        return self.url + PUBLIC_PREFIX

    def expire_tokens(self) -> None:
        with self._lock:
            self._tokens.clear()

    def on_token_expiry(self, request: Request, force: bool = False) -> Response | None:
        """A token expires after some use, never on the first calls after it was issued
        (so a client's retry with the token it just obtained is not refused again)."""
        token = request.headers.get("authorization", "").partition(" ")[2]
        with self._lock:
            worn = force or self._tokens.get(token, 0) >= 20
        if request.path.startswith(API_PREFIX) and worn:
            self.expire_tokens()
            return Response.json({"error": "invalid_token"}, 401)
        return None

    def handle(self, request: Request) -> Response:
        path = request.path
        if path == f"{SSO_PREFIX}/auth/realms/{self.realm}/protocol/openid-connect/token":
            return self._token(request.form)
        if path == f"{PUBLIC_PREFIX}/thong-ke":
            return self._public_page(request.query)
        if not path.startswith(API_PREFIX):
            return Response.json({"error": "not found"}, 404)
        if not self._authorised(request.headers.get("authorization", "")):
            return Response.json({"error": "invalid_token"}, 401)
        route = path[len(API_PREFIX):]
        if route == "/ba/agency/name+code":
            style = "list" if self.deployment.translate == "list" else "name"
            items = [{"id": a.source_id, "code": a.code, "name": _names(a.name, style)}
                     for a in self.province.agencies]
            return Response.json(spring_page(items, int(request.query.get("page", 0)),
                                             int(request.query.get("size", 2000))))
        if route == self.deployment.statistics_path:
            missing = [k for k, v in self.deployment.statistics_required.items()
                       if request.query.get(k) != v]
            if missing:
                return Response.json({"timestamp": "", "status": 400, "error": "Bad Request",
                                      "message": f"Required request parameter '{missing[0]}' "
                                                 "is not present", "path": path}, 400)
            return Response.json(self._statistics(request.query))
        if route == "/pa/dossier/search":
            return Response.json(self._search(request.query))
        return Response.json({"timestamp": "", "status": 404, "error": "Not Found",
                              "path": path}, 404)

    # -- auth ---------------------------------------------------------------

    def _issue(self) -> dict[str, object]:
        access, refresh = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
        with self._lock:
            self._tokens[access] = 0
            self._refresh.add(refresh)
        return {"access_token": access, "expires_in": self.token_lifetime,
                "refresh_token": refresh, "refresh_expires_in": 1800, "token_type": "Bearer"}

    def _token(self, form: dict[str, str]) -> Response:
        denied = Response.json({"error": "invalid_grant",
                                "error_description": "Invalid user credentials"}, 401)
        if form.get("client_id") != self.client_id:
            return Response.json({"error": "invalid_client"}, 401)
        grant = form.get("grant_type")
        if grant == "password":
            if (form.get("username"), form.get("password")) != (self.username, self.password):
                return denied
        elif grant == "client_credentials":
            if form.get("client_secret") != self.client_secret:
                return denied
        elif grant == "refresh_token":
            with self._lock:
                if form.get("refresh_token") not in self._refresh:
                    return Response.json({"error": "invalid_grant"}, 400)
                self._refresh.discard(form.get("refresh_token", ""))
            self.refreshes += 1
            return Response.json(self._issue())
        else:
            return Response.json({"error": "unsupported_grant_type"}, 400)
        self.logins += 1
        return Response.json(self._issue())

    def _authorised(self, header: str) -> bool:
        scheme, _, token = header.partition(" ")
        with self._lock:
            if scheme.lower() != "bearer" or token not in self._tokens:
                return False
            self._tokens[token] += 1
            return True

    # -- data ---------------------------------------------------------------

    def _agencies_under(self, agency_id: str) -> list[str]:
        if agency_id == self.province.root_id:
            return [a.code for a in self.province.agencies]
        return [a.code for a in self.province.agencies if a.source_id == agency_id]

    def _statistics(self, query: Mapping[str, str]) -> list[dict[str, object]]:
        start, end = read_range(query.get("from-date"), query.get("to-date"),
                                self.deployment.date_encoding)
        if start is None or end is None:
            return []
        figures = self.province.published(
            "motcua", Period(start.date(), end.date()),
            self._agencies_under(query.get("agency-id", self.province.root_id)),
            as_of=self.deployment.figures_as_of)
        style = "list" if self.deployment.translate == "list" else "name"
        out = []
        for code, row in sorted(figures.items()):
            agency = self.province.agency(code)
            out.append({"agency": {"id": agency.source_id, "code": code,
                                   "name": _names(agency.name, style)},
                        **{wire: row[m] for m, wire in STAT_FIELDS.items()}})
        return out

    def _search(self, query: Mapping[str, str]) -> dict[str, object]:
        """Only the observed parameter names are read; any other is ignored."""
        start, end = read_range(query.get("accepted-from"), query.get("accepted-to"),
                                self.deployment.date_encoding)
        under = query.get("ancestor-agency-id") or self.province.root_id
        codes = set(self._agencies_under(under))
        found = self.cached(("search", start, end, under), self.province.revision,
                            lambda: [igate_record(i, self.deployment) for i in sorted(
                                (item for item in self.province.onestop.values()
                                 if item.dossier.agency.code in codes and item.dossier.received_at
                                 and (start is None or start <= item.dossier.received_at)
                                 and (end is None or item.dossier.received_at <= end)),
                                key=lambda item: item.local_code)])
        totals = query.get("spec", "page") != "slice" and self.deployment.page_totals
        number, size = int(query.get("page", 0)), int(query.get("size", 20))
        if self.hostile == "repeat_page":      # every page answers the first one again
            number = 0
        page = spring_page(found, number, size, totals=totals)
        if self.hostile == "year_9999" and page["content"]:
            content = [dict(item) for item in page["content"]]  # type: ignore[attr-defined]
            content[-1]["appointmentDate"] = "9999-12-31T17:00:00.000+0700"
            page["content"] = content
        if self.hostile == "duplicates" and page["content"]:
            first = page["content"][0]  # type: ignore[index]
            page["content"] = [first] * len(page["content"])  # type: ignore[arg-type]
        if self.hostile == "repeat_page" and not totals:
            page["last"] = False               # and never says it is the last
        return page

    def _public_page(self, query: dict[str, str]) -> Response:
        start = dt.datetime.strptime(query["tu-ngay"], "%d/%m/%Y").date()
        end = dt.datetime.strptime(query["den-ngay"], "%d/%m/%Y").date()
        figures = self.province.published("motcua", Period(start, end),
                                          as_of=self.deployment.figures_as_of)
        head = "".join(f"<th>{html.escape(c)}</th>" for c in PUBLIC_COLUMNS)
        rows, totals = [], dict.fromkeys(METRICS, 0)
        for n, (code, row) in enumerate(sorted(figures.items()), 1):
            for m in METRICS:
                totals[m] += row[m]
            cells = [str(n), self.province.agency(code).name, code,
                     *(vi.number(row[m]) for m in PUBLIC_METRICS)]
            rows.append("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells) + "</tr>")
        total_cells = ["", "Tổng cộng", "", *(vi.number(totals[m]) for m in PUBLIC_METRICS)]
        rows.append("<tr class=\"tong\">" + "".join(f"<td>{html.escape(c)}</td>"
                                                   for c in total_cells) + "</tr>")
        return Response.html(
            "<!DOCTYPE html><html lang=\"vi\"><head><meta charset=\"utf-8\">"
            "<title>Thống kê tình hình giải quyết hồ sơ</title></head><body>"
            f"<h1>Thống kê từ {start:%d/%m/%Y} đến {end:%d/%m/%Y}</h1>"
            f"<table id=\"thong-ke\"><thead><tr>{head}</tr></thead><tbody>"
            + "".join(rows) + "</tbody></table></body></html>")


#: The one-stop system's dossier list export (modeled): local code, the code pushed to
#: DVCQG when it differs, the channel as "Hình thức nộp", the finish as "Ngày có kết quả".
EXPORT_COLUMNS = ("Mã hồ sơ", "Mã hồ sơ quốc gia", "Mã TTHC", "Tên TTHC", "Mã đơn vị",
                  "Tên đơn vị", "Hình thức nộp", "Trạng thái", "Ngày tiếp nhận", "Ngày hẹn trả",
                  "Ngày có kết quả", "Ngày trả kết quả")


def export_rows(province: Province, period: Period, agency: str | None = None
                ) -> list[list[str]]:
    """The one-stop system's dossier list for dossiers received in the period."""
    def when(value: dt.datetime | None) -> str:
        return "" if value is None else value.astimezone(VN_TZ).strftime("%d/%m/%Y %H:%M")

    rows = []
    for item in sorted(province.onestop.values(), key=lambda i: i.local_code):
        d = item.dossier
        if d.received_at and period.contains(d.received_at.date()) and (
                agency is None or d.agency.code == agency):
            national = item.nation_code or ""
            rows.append([item.local_code, national if national != item.local_code else "",
                         d.procedure.code, d.procedure.name, d.agency.code, d.agency.name,
                         IGATE_METHOD[d.channel][1], IGATE_STATUS[d.status][1],
                         when(d.received_at), when(d.due_at), when(d.finished_at),
                         when(d.returned_at)])
    return rows


def export(province: Province, path: Path, period: Period, agency: str | None = None) -> Path:
    """The one-stop system's dossier list in the format `path`'s suffix names."""
    return write_table(path, EXPORT_COLUMNS, export_rows(province, period, agency))
