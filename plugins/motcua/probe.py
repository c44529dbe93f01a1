"""The first contact with a one-stop system (`nq57sync doctor --online`).

Logs in, calls each endpoint once with the smallest request (one page of one
day, one agency) and says, in Vietnamese, what answered, with which status and
shape, which expected fields were missing, which unknown fields, status ids and
date formats appeared, and which setting to change. It only reads; the client
it is given holds the request budget; no token, password or secret is ever
part of a finding.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections import Counter
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import attrs

from nq57sync import vi
from nq57sync.errors import Nq57Error
from nq57sync.http import first_line
from nq57sync.model import VN_TZ
from nq57sync.period import Period
from nq57sync.unmapped import status_map_line
from nq57sync_motcua.api import STAT_FIELDS, translated

if TYPE_CHECKING:
    import httpx

    from nq57sync.http import Authenticator, SourceClient
    from nq57sync_motcua.plugin import OneStopSource

#: Fields of a search item the plugin reads (sources.md, observed); the others it keeps raw.
EXPECTED_ITEM = ("id", "code", "nationCode", "procedure", "agency", "applyMethod",
                 "dossierStatus", "acceptedDate", "appointmentDate", "completedDate",
                 "updatedDate")
KNOWN_ITEM = frozenset(EXPECTED_ITEM) | {"returnedDate", "nationSyncedDate", "appliedDate",
                                         "dossierTaskStatus", "currentTask", "dueDate"}
#: Days tried back from yesterday for a day with dossiers (one request each).
DAYS_TRIED = 4
#: 4xx statuses a probe reads itself instead of failing on (401 goes through the login).
CLIENT_ERRORS = (400, 403, 404, 405, 406, 415, 422, 429)


@attrs.frozen
class Answer:
    status: int
    content_type: str
    text: str

    def data(self) -> Any:
        try:
            return json.loads(self.text)
        except ValueError:
            return None

    def shape(self) -> str:
        """What came back, in a few words: `HTTP 200, JSON` or `HTTP 200, trang HTML “…”`."""
        data = self.data()
        if data is None:
            kind = "trang HTML" if "<" in self.text[:200] else "nội dung không phải JSON"
            return f"HTTP {self.status}, {kind} “{first_line(_no_tags(self.text), 60)}”"
        return f"HTTP {self.status}, JSON"


def _no_tags(text: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]*>", " ", text)).strip() or "(trống)"


def _date_format(value: Any) -> str:
    """`2026-01-23T09:46:47.000+0700` → `9999-99-99T99:99:99.999+9999`: the shape, not the date."""
    if not isinstance(value, str):
        return type(value).__name__
    return re.sub(r"\d", "9", value)[:40]


@attrs.frozen
class Probe:
    source: OneStopSource
    client: SourceClient
    today: dt.date = attrs.field(factory=lambda: dt.datetime.now(VN_TZ).date())

    def _get(self, auth: Authenticator | None, url: str, service: str,
             params: Mapping[str, Any]) -> Answer:
        def capture(response: httpx.Response) -> Answer:
            return Answer(response.status_code, response.headers.get("content-type", ""),
                          response.text)

        return self.client.request("GET", url, service=service, params=params, auth=auth,
                                   parse=capture, client_errors=CLIENT_ERRORS)

    def run(self) -> list[tuple[str, str, bool, str]]:
        """(name, title, ok, detail) findings, a screen's worth."""
        out: list[tuple[str, str, bool, str]] = []
        api, name = self.source.api, self.source.name
        login = self.source.login(self.client)
        try:
            login.headers()
            lifetime = getattr(login, "lifetime", None)
            out.append(("login", "Đăng nhập", True,
                        f"máy chủ {self.source.token_url.split('/auth/')[0]} cấp mã truy cập"
                        + (f", hiệu lực {vi.number(lifetime)} giây" if lifetime else "")))
        except Nq57Error as exc:
            out.append(("login", "Đăng nhập", False, f"{exc} Kiểm tra sso_url, realm, client_id "
                        "và biến môi trường chứa tài khoản."))
            login = None
            try:  # what the API itself answers without a token (a firewall page, a 401)
                answer = self._get(None, api.api_url.rstrip("/") + api.paths["search"], "search",
                                   {"page": 0, "size": 1})
                out.append(("api", "Máy chủ API (chưa đăng nhập)", answer.status == 401,
                            answer.shape() + ("" if answer.status == 401 else
                                              "; cần HTTP 401 khi chưa đăng nhập (khóa api_url)")))
            except Nq57Error as exc:
                out.append(("api", "Máy chủ API (chưa đăng nhập)", False, str(exc)))
        if login is not None:
            agency_id = self._agencies(login, out)
            self._statistics(login, agency_id, out)
            self._search(login, agency_id, out)
        if api.public_url:
            self._public(out)
        out.append(("requests", "Số yêu cầu đã gửi", True,
                    f"{self.client.requests_sent} (không ghi gì vào kho; nguồn “{name}”)"))
        return out

    # -- endpoints ------------------------------------------------------------------

    def _agencies(self, auth: Authenticator, out: list[tuple[str, str, bool, str]]) -> str:
        api = self.source.api
        params = {"ancestor-id": api.root_agency_id, "page": 0, "size": 1}
        if api.agency_tag_id:
            params["tag-id"] = api.agency_tag_id
        wanted = self.source.config.agencies
        if wanted:
            params["size"] = 2000  # one page: the configured codes must be found in it
        try:
            answer = self._get(auth, api.api_url.rstrip("/") + api.paths["agencies"],
                               "agencies", params)
        except Nq57Error as exc:
            out.append(("agencies", "Danh sách đơn vị", False, str(exc)))
            return api.root_agency_id
        data = answer.data()
        items = data.get("content") if isinstance(data, dict) else None
        if not isinstance(items, list):
            out.append(("agencies", "Danh sách đơn vị", False,
                        f"{answer.shape()}; cần trang Spring có content (khóa paths.agencies, "
                        "root_agency_id)"))
            return api.root_agency_id
        chosen = api.root_agency_id
        found = {i.get("code"): i.get("id") for i in items if isinstance(i, dict)}
        detail = f"{answer.shape()}, {vi.number(len(items))} đơn vị trên trang đầu"
        ok = True
        if wanted:
            missing = [c for c in wanted if c not in found]
            ok = not missing
            if missing:
                detail += f"; không thấy {', '.join(missing[:3])} (khóa agencies)"
            elif found.get(wanted[0]):
                chosen = str(found[wanted[0]])
        if items and isinstance(items[0], dict) and isinstance(items[0].get("name"), list):
            detail += "; tên đơn vị dạng danh sách theo ngôn ngữ (đã đọc được)"
        out.append(("agencies", "Danh sách đơn vị", ok, detail))
        return chosen

    def _statistics(self, auth: Authenticator, agency_id: str,
                    out: list[tuple[str, str, bool, str]]) -> None:
        api = self.source.api
        day = self.today - dt.timedelta(days=1)
        try:
            answer = self._get(auth, api.api_url.rstrip("/") + api.paths["statistics"], "statistics",
                               api.statistics_query(Period(day, day), agency_id))
        except Nq57Error as exc:
            out.append(("statistics", "Thống kê", False, str(exc)))
            return
        data = answer.data()
        if answer.status >= 400 or not isinstance(data, list):
            said = ""
            if isinstance(data, dict):
                said = str(data.get("message") or data.get("error") or "")[:100]
            out.append(("statistics", "Thống kê", False,
                        f"{answer.shape()}{f' “{said}”' if said else ''}; đường dẫn {api.paths['statistics']}"
                        " có thể cần hậu tố của tỉnh (khóa paths.statistics) và các tham số cố "
                        "định agencyLevel0…2, procedureLevel2…4 (khóa statistics_params)"))
            return
        fields: Counter[str] = Counter()
        for item in data:
            if isinstance(item, dict):
                fields.update(item.keys())
        missing = [f for f in STAT_FIELDS.values() if f not in fields] if data else []
        unknown = sorted(set(fields) - set(STAT_FIELDS.values()) - {"agency"})
        detail = f"{answer.shape()}, {vi.number(len(data))} dòng cho ngày {vi.date(day)}"
        if missing:
            detail += f"; không công bố {', '.join(missing[:6])} (coi là chưa công bố, không phải 0)"
        if unknown:
            detail += f"; trường lạ {', '.join(unknown[:6])}"
        out.append(("statistics", "Thống kê", True, detail))

    def _search(self, auth: Authenticator, agency_id: str,
                out: list[tuple[str, str, bool, str]]) -> None:
        api = self.source.api
        url = api.api_url.rstrip("/") + api.paths["search"]
        answer, day, items = None, self.today, []
        for back in range(1, DAYS_TRIED + 1):
            day = self.today - dt.timedelta(days=back)
            try:
                answer = self._get(auth, url, "search",
                                   api.search_query(Period(day, day), agency_id, 0, 20))
            except Nq57Error as exc:
                out.append(("search", "Tìm kiếm hồ sơ", False, str(exc)))
                return
            data = answer.data()
            if answer.status >= 400 or not isinstance(data, dict) or not isinstance(
                    data.get("content"), list):
                out.append(("search", "Tìm kiếm hồ sơ", False,
                            f"{answer.shape()}; cần trang Spring có content (khóa paths.search)"))
                return
            items = [i for i in data["content"] if isinstance(i, dict)]
            if items:
                break
        assert answer is not None
        data = answer.data()
        paging = ("có totalElements" if "totalElements" in data
                  else "không có totalElements (dạng slice)")
        advice = []
        if "totalElements" not in data and api.page_spec == "page":
            advice.append("đặt page_spec = \"slice\"")
        detail = f"{answer.shape()}, {vi.number(len(items))} hồ sơ ngày {vi.date(day)}, {paging}"
        out.append(("search", "Tìm kiếm hồ sơ", not advice,
                    detail + (f"; {'; '.join(advice)}" if advice else "")))
        if items:
            out += self._items(items, day)

    def _items(self, items: list[dict[str, Any]], day: dt.date) -> list[tuple[str, str, bool, str]]:
        api = self.source.api
        out = []
        fields: Counter[str] = Counter()
        for item in items:
            fields.update(item.keys())
        missing = [f for f in EXPECTED_ITEM if f not in fields]
        unknown = sorted(set(fields) - KNOWN_ITEM)
        out.append(("fields", "Trường của hồ sơ", not missing,
                    (f"thiếu {', '.join(missing)}" if missing else "đủ các trường cần đọc")
                    + (f"; trường lạ (được lưu nguyên): {', '.join(unknown[:8])}" if unknown else "")))
        statuses: Counter[str] = Counter()
        names: dict[str, str] = {}
        for item in items:
            status = item.get("dossierStatus")
            if isinstance(status, dict) and "id" in status:
                ident = str(status["id"]).strip()
                statuses[ident] += 1
                names.setdefault(ident, translated(status, "name", "dossierStatus"))
        mapped = {str(k) for k in api.codes.status_map}
        unmapped = {k: n for k, n in statuses.items() if k not in mapped}
        seen = ", ".join(f"{k} ({vi.number(n)})" for k, n in sorted(statuses.items()))
        if unmapped:
            out.append(("status_ids", "Mã trạng thái", False,
                        f"gặp {seen}; chưa ánh xạ: " + "; ".join(
                            f"{k} “{names.get(k) or '?'}” ({vi.number(n)} hồ sơ)"
                            for k, n in sorted(unmapped.items()))
                        + ". Thêm vào cấu hình nguồn: " + status_map_line(unmapped)
                        + f" (thay 4 = {vi.STATUS_NAMES[4]} bằng mã TrangThaiHoSo đúng)"))
        else:
            out.append(("status_ids", "Mã trạng thái", True, f"gặp {seen}, đều đã ánh xạ"))
        formats: dict[str, str] = {}  # shape → first example
        for item in items:
            value = item.get("acceptedDate")
            if value:
                formats.setdefault(_date_format(value), str(value)[:40])
        detail = ("acceptedDate dạng " + ", ".join(f"“{v}”" for v in formats.values())
                  if formats else "không có acceptedDate")
        codes = [str((i.get("procedure") or {}).get("code", "")) for i in items
                 if isinstance(i.get("procedure"), dict)]
        suffixed = [c for c in codes if c and api.codes.national_procedure(c) != c]
        if suffixed:
            detail += (f"; mã thủ tục có hậu tố địa phương ({suffixed[0]} → "
                       f"{api.codes.national_procedure(suffixed[0])}, khóa procedure_code_pattern)")
        day_ok = not any(self._local_day(i["acceptedDate"]) != day for i in items
                         if isinstance(i.get("acceptedDate"), str) and self._local_day(
                             i["acceptedDate"]) is not None)
        if not day_ok:
            detail += (f"; có hồ sơ tiếp nhận ngoài ngày {vi.date(day)} đã hỏi: đổi khóa "
                       f"date_encoding (đang là \"{api.date_encoding}\")")
        out.append(("dates", "Ngày giờ và mã thủ tục", day_ok, detail))
        return out

    @staticmethod
    def _local_day(value: str) -> dt.date | None:
        try:
            parsed = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            return None
        return (parsed.replace(tzinfo=VN_TZ) if parsed.tzinfo is None
                else parsed.astimezone(VN_TZ)).date()

    def _public(self, out: list[tuple[str, str, bool, str]]) -> None:
        api = self.source.api
        day = self.today - dt.timedelta(days=1)
        try:
            answer = self._get(None, api.public_url.rstrip("/") + api.paths["public"], "thong-ke",
                               {"tu-ngay": f"{day:%d/%m/%Y}", "den-ngay": f"{day:%d/%m/%Y}"})
        except Nq57Error as exc:
            out.append(("public", "Trang thống kê công khai", False, str(exc)))
            return
        has_table = 'id="thong-ke"' in answer.text or "id='thong-ke'" in answer.text
        out.append(("public", "Trang thống kê công khai", has_table and answer.status < 400,
                    f"HTTP {answer.status}, " + ("có bảng thống kê" if has_table else
                                                 f"không có bảng id=\"thong-ke\" (“"
                                                 f"{first_line(_no_tags(answer.text), 60)}”); "
                                                 "khóa public_url, paths.public")))
