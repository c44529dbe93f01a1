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
from pathlib import Path

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


def igate_record(item: OneStopDossier) -> dict[str, object]:
    d = item.dossier
    status_id, status_name = IGATE_STATUS[d.status]
    method_id, method_name = IGATE_METHOD[d.channel]
    return {
        "id": hashlib.blake2b(item.local_code.encode(), digest_size=6).hexdigest(),
        "code": item.local_code, "nationCode": item.nation_code,
        "procedure": {"code": d.procedure.code, "name": d.procedure.name},
        "agency": {"id": item.agency_id, "code": d.agency.code, "name": d.agency.name},
        "applyMethod": {"id": method_id, "name": method_name},
        "dossierStatus": {"id": status_id, "name": status_name},
        "appliedDate": iso(item.applied_at), "acceptedDate": iso(d.received_at),
        "appointmentDate": iso(d.due_at), "completedDate": iso(d.finished_at),
        "returnedDate": iso(d.returned_at), "updatedDate": iso(d.updated_at),
        "nationSyncedDate": iso(d.synced_at),
    }


def spring_page(items: list, page: int, size: int) -> dict[str, object]:
    total = len(items)
    content = items[page * size: (page + 1) * size]
    pages = (total + size - 1) // size if size else 0
    return {"content": content, "totalElements": total, "totalPages": pages, "number": page,
            "size": size, "last": page >= pages - 1}


def _instant(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(VN_TZ)


class MotcuaSimulator(SimServer):
    fault_kinds = ("latency", "http_500", "http_429", "drop", "truncate", "html_200",
                   "token_expiry")

    def __init__(self, province: Province, faults: Faults | None = None, *,
                 realm: str = "digo", client_id: str = "web-onegate",
                 username: str = "canbo.motcua", password: str = "sim-password",
                 client_secret: str = "sim-client-secret", token_lifetime: int = 300) -> None:
        super().__init__(faults)
        self.province = province
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
            items = [{"id": a.source_id, "code": a.code, "name": a.name}
                     for a in self.province.agencies]
            return Response.json(spring_page(items, int(request.query.get("page", 0)),
                                             int(request.query.get("size", 2000))))
        if route == "/pa/dossier-statistic/--statistic-agency":
            return Response.json(self._statistics(request.query))
        if route == "/pa/dossier/search":
            return Response.json(self._search(request.query))
        return Response.json({"error": "not found"}, 404)

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

    def _statistics(self, query: dict[str, str]) -> list[dict[str, object]]:
        start = _instant(query["from-date"]).date()
        end = _instant(query["to-date"]).date()
        figures = self.province.published("motcua", Period(start, end),
                                          self._agencies_under(query["agency-id"]))
        out = []
        for code, row in sorted(figures.items()):
            agency = self.province.agency(code)
            out.append({"agency": {"id": agency.source_id, "code": code, "name": agency.name},
                        **{wire: row[m] for m, wire in STAT_FIELDS.items()}})
        return out

    def _search(self, query: dict[str, str]) -> dict[str, object]:
        start, end = _instant(query["from-accepted-date"]), _instant(query["to-accepted-date"])
        codes = set(self._agencies_under(query["agency-id"]))
        found = self.cached(("search", start, end, query["agency-id"]), self.province.revision,
                            lambda: [igate_record(i) for i in sorted(
                                (item for item in self.province.onestop.values()
                                 if item.dossier.agency.code in codes and item.dossier.received_at
                                 and start <= item.dossier.received_at <= end),
                                key=lambda item: item.local_code)])
        return spring_page(found, int(query.get("page", 0)), int(query.get("size", 20)))

    def _public_page(self, query: dict[str, str]) -> Response:
        start = dt.datetime.strptime(query["tu-ngay"], "%d/%m/%Y").date()
        end = dt.datetime.strptime(query["den-ngay"], "%d/%m/%Y").date()
        figures = self.province.published("motcua", Period(start, end))
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
