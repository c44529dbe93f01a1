"""A synthetic province: agencies, procedures, and months of dossiers.

Deterministic for a seed and a clock (`as_of`, the simulation's "now"). The
one-stop system holds the truth; DVCQG holds the copies that were pushed,
which a `Scenario` then spoils on purpose.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterable

import attrs

from nq57sync.codes import FINISHED_STATUSES, Channel, Status
from nq57sync.model import METRICS, VN_TZ, Agency, Dossier, Procedure
from nq57sync.period import Period
from nq57sync.simulators.calendar import add_working_days, working_days

PLACES = [
    ("phường", "Hồng Bàng"), ("phường", "Lê Chân"), ("phường", "Ngô Quyền"),
    ("phường", "Gia Viên"), ("phường", "An Biên"), ("phường", "Hải An"),
    ("phường", "Đông Hải"), ("phường", "Kiến An"), ("phường", "Phù Liễn"),
    ("phường", "Đồ Sơn"), ("phường", "Dương Kinh"), ("phường", "Thủy Nguyên"),
    ("phường", "Thiên Hương"), ("phường", "Hòa Bình"), ("phường", "Nam Triệu"),
    ("phường", "Bạch Đằng"), ("phường", "Lưu Kiếm"), ("phường", "Lê Ích Mộc"),
    ("phường", "An Dương"), ("phường", "An Hải"), ("phường", "An Phong"),
    ("phường", "Hải Dương"), ("phường", "Lê Thanh Nghị"), ("phường", "Thành Đông"),
    ("xã", "An Lão"), ("xã", "An Khánh"), ("xã", "An Quang"), ("xã", "An Trường"),
    ("xã", "Kiến Thụy"), ("xã", "Kiến Minh"), ("xã", "Tiên Lãng"), ("xã", "Tân Minh"),
    ("xã", "Vĩnh Bảo"), ("xã", "Vĩnh Am"), ("xã", "Nguyễn Bỉnh Khiêm"), ("xã", "Chấn Hưng"),
    ("xã", "Hùng Thắng"), ("xã", "Tiên Minh"), ("xã", "Quyết Thắng"), ("xã", "Kim Thành"),
    ("đặc khu", "Cát Hải"), ("đặc khu", "Bạch Long Vĩ"),
]

#: (code, name, field code, field name, working days, fully online?)
PROCEDURES = [
    ("1.001193", "Đăng ký khai sinh", "HT", "Hộ tịch", 1, True),
    ("1.000894", "Đăng ký kết hôn", "HT", "Hộ tịch", 1, False),
    ("1.000656", "Đăng ký khai tử", "HT", "Hộ tịch", 1, True),
    ("1.004873", "Cấp bản sao trích lục hộ tịch", "HT", "Hộ tịch", 1, True),
    ("2.000635", "Xác nhận tình trạng hôn nhân", "HT", "Hộ tịch", 3, True),
    ("1.001757", "Đăng ký thường trú", "CT", "Cư trú", 7, False),
    ("2.000908", "Chứng thực bản sao từ bản chính", "CTH", "Chứng thực", 1, False),
    ("2.000884", "Chứng thực chữ ký", "CTH", "Chứng thực", 1, False),
    ("1.003003", "Đăng ký biến động đất đai", "DD", "Đất đai", 10, False),
    ("1.004227", "Cấp Giấy chứng nhận quyền sử dụng đất lần đầu", "DD", "Đất đai", 20, False),
    ("1.005399", "Chuyển mục đích sử dụng đất", "DD", "Đất đai", 15, False),
    ("2.000575", "Đăng ký hộ kinh doanh", "KD", "Đăng ký kinh doanh", 3, True),
    ("2.001612", "Thay đổi nội dung đăng ký hộ kinh doanh", "KD", "Đăng ký kinh doanh", 3, True),
    ("1.009994", "Cấp giấy phép xây dựng nhà ở riêng lẻ", "XD", "Xây dựng", 15, False),
    ("1.001776", "Trợ cấp xã hội hằng tháng", "BTXH", "Bảo trợ xã hội", 7, False),
    ("1.001653", "Hỗ trợ chi phí mai táng", "BTXH", "Bảo trợ xã hội", 5, True),
    ("1.000489", "Xác nhận hộ nghèo, hộ cận nghèo", "BTXH", "Bảo trợ xã hội", 5, False),
]
_WEIGHTS = [14, 4, 3, 8, 5, 6, 12, 6, 4, 2, 2, 4, 2, 2, 2, 1, 2]


@attrs.frozen
class OneStopDossier:
    """A dossier as the one-stop system holds it, with what only it knows."""

    dossier: Dossier          # canonical: code = nationCode or local code
    local_code: str
    nation_code: str | None
    applied_at: dt.datetime
    agency_id: str


@attrs.frozen
class Injection:
    """A difference planted on purpose, for tests to find."""

    kind: str
    code: str
    field: str | None = None
    note: str = ""


@attrs.define
class Province:
    """The simulated data both systems serve."""

    seed: int
    as_of: dt.datetime
    root_id: str
    agencies: list[Agency]
    agency_ids: dict[str, str]                  # MaDinhDanh → iGate id
    procedures: list[Procedure]
    full_online: set[str]
    onestop: dict[str, OneStopDossier]          # by canonical code
    portal: dict[str, Dossier]                  # DVCQG copies, by MaHoSo
    #: (system, agency code, metric) → amount added to the published figure
    published_offsets: dict[tuple[str, str, str], int] = attrs.field(factory=dict)
    injections: list[Injection] = attrs.field(factory=list)
    #: Bumped by `touch()` whenever the data changes, so simulators drop their caches.
    revision: int = 0

    def touch(self) -> None:
        self.revision += 1

    @classmethod
    def generate(
        cls,
        seed: int = 57,
        *,
        as_of: dt.datetime | None = None,
        agencies: int = 36,
        months: int = 3,
        per_day: tuple[int, int] = (2, 12),
    ) -> Province:
        rng = random.Random(seed)
        now = (as_of or dt.datetime.now(VN_TZ)).astimezone(VN_TZ).replace(microsecond=0)
        start = (now.date().replace(day=1) - dt.timedelta(days=31 * (months - 1))).replace(day=1)
        places = PLACES[:agencies] if agencies <= len(PLACES) else [
            ("xã", f"Số {i + 1}") for i in range(agencies)]
        agency_list = [
            Agency(f"{i + 1:03d}.00.31.H26", f"UBND {kind} {name}", f"{rng.getrandbits(96):024x}")
            for i, (kind, name) in enumerate(places)
        ]
        procedures = [Procedure(c, n, f) for c, n, f, *_ in PROCEDURES]
        days_of = {c: wd for c, _, _, _, wd, _ in PROCEDURES}
        full_online = {c for c, *_, online in PROCEDURES if online}
        onestop: dict[str, OneStopDossier] = {}
        for agency in agency_list:
            for day in working_days(start, now.date()):
                for seq in range(1, rng.randint(*per_day) + 1):
                    d = _one_dossier(rng, agency, day, seq, now, procedures, days_of, full_online)
                    if d is not None:
                        onestop[d.dossier.code] = d
        portal = {code: _pushed(d.dossier) for code, d in onestop.items()
                  if d.dossier.synced_at is not None}
        return cls(seed, now, f"{rng.getrandbits(96):024x}", agency_list,
                   {a.code: a.source_id or "" for a in agency_list}, procedures, full_online,
                   onestop, portal)

    # -- published figures ------------------------------------------------

    def published(self, system: str, period: Period,
                  agency_codes: Iterable[str] | None = None, *, as_of: str = "period_end"
                  ) -> dict[str, dict[str, int]]:
        """The standard-form figures a system publishes, per agency code: outcomes as at the
        period's close (`as_of="period_end"`) or as of now (`"snapshot"`)."""
        dossiers = (
            [d.dossier for d in self.onestop.values()] if system == "motcua"
            else list(self.portal.values())
        )
        wanted = set(agency_codes) if agency_codes is not None else {a.code for a in self.agencies}
        figures = {code: dict.fromkeys(METRICS, 0) for code in wanted}
        reference = self.as_of if as_of == "snapshot" else min(
            self.as_of, dt.datetime.combine(period.end, dt.time(23, 59, 59), VN_TZ))
        for d in dossiers:
            if d.agency.code in figures and d.received_at is not None:
                _count(figures[d.agency.code], d, period, reference)
        for (sys_name, code, metric), delta in self.published_offsets.items():
            if sys_name == system and code in figures:
                figures[code][metric] += delta
        return figures

    def agency(self, code: str) -> Agency:
        return next(a for a in self.agencies if a.code == code)


def _one_dossier(rng: random.Random, agency: Agency, day: dt.date, seq: int, now: dt.datetime,
                 procedures: list[Procedure], days_of: dict[str, int],
                 full_online: set[str]) -> OneStopDossier | None:
    received = dt.datetime.combine(day, dt.time(7, 30), VN_TZ) + dt.timedelta(
        minutes=rng.randrange(0, 9 * 60))
    if received > now:
        return None
    procedure = rng.choices(procedures, _WEIGHTS)[0]
    online_share = 0.8 if procedure.code in full_online else 0.45
    roll = rng.random()
    channel = (Channel.POSTAL if roll < 0.03 else
               Channel.ONLINE if roll < 0.03 + online_share else Channel.DIRECT)
    due = dt.datetime.combine(add_working_days(day, days_of[procedure.code]), dt.time(17, 0),
                              VN_TZ)
    finished = returned = rejected = None
    fate = rng.random()
    if fate < 0.02:
        status, rejected = Status.NOT_RECEIVED, received + dt.timedelta(hours=2)
        updated = rejected
    elif fate < 0.04:
        status, updated = Status.WITHDRAWAL_REQUESTED, received + dt.timedelta(days=1)
    else:
        late = rng.random() < 0.07
        span = days_of[procedure.code] + (rng.randint(1, 4) if late else -rng.randint(0, 1))
        finish_day = add_working_days(day, max(0, span))
        finished = dt.datetime.combine(finish_day, dt.time(8), VN_TZ) + dt.timedelta(
            minutes=rng.randrange(0, 8 * 60))
        finished = max(finished, received + dt.timedelta(minutes=30))
        if finished > now:
            finished = None
            status = Status.SUPPLEMENT_REQUESTED if rng.random() < 0.05 else Status.IN_PROCESS
            updated = received + dt.timedelta(minutes=20)
        else:
            returned = finished + dt.timedelta(hours=rng.randint(1, 40))
            if returned > now:
                status, returned, updated = Status.FINISHED, None, finished
            else:
                status, updated = Status.RETURNED, returned
    updated = min(updated, now)
    local_code = f"{agency.code}-{day:%y%m%d}-{seq:05d}"
    synced = updated + dt.timedelta(minutes=rng.randint(1, 30))
    dossier = Dossier(
        code=local_code, agency=agency, procedure=procedure, channel=channel, status=status,
        received_at=received, due_at=due, finished_at=finished, returned_at=returned,
        rejected_at=rejected, updated_at=updated, synced_at=synced if synced <= now else None,
    )
    return OneStopDossier(dossier, local_code, None, received - dt.timedelta(minutes=15),
                          agency.source_id or "")


def _pushed(d: Dossier) -> Dossier:
    """The copy DVCQG accepted at the dossier's last push."""
    return attrs.evolve(d, alt_code=None, updated_at=None, status_raw="", channel_raw="", raw={})


def _count(row: dict[str, int], d: Dossier, period: Period, reference: dt.datetime) -> None:
    """Standard-form arithmetic: received = resolved + pending + withdrawn + rejected."""
    assert d.received_at is not None
    day = d.received_at.date()
    if day > period.end:
        return
    start = dt.datetime.combine(period.start, dt.time(0), VN_TZ)
    closed_before = (
        (d.finished_at is not None and d.finished_at < start)
        or (d.status in (Status.NOT_RECEIVED, Status.WITHDRAWAL_REQUESTED) and day < period.start)
    )
    if day < period.start:
        if closed_before:
            return
        row["carried_over"] += 1
    else:
        row[{Channel.ONLINE: "received_online", Channel.DIRECT: "received_direct",
             Channel.POSTAL: "received_postal"}[d.channel]] += 1
    row["received_total"] += 1
    if d.status == Status.NOT_RECEIVED:
        row["rejected"] += 1
    elif d.status == Status.WITHDRAWAL_REQUESTED:
        row["withdrawn"] += 1
    elif d.status in FINISHED_STATUSES and d.finished_at is not None and d.finished_at <= reference:
        assert d.due_at is not None
        finished, due = d.finished_at.date(), d.due_at.date()
        key = "resolved_early" if finished < due else "resolved_on_time" if finished == due else (
            "resolved_late")
        row[key] += 1
        row["resolved_total"] += 1
    else:
        overdue = d.due_at is not None and d.due_at.date() < reference.date()
        row["pending_overdue" if overdue else "pending_in_time"] += 1
        row["pending_total"] += 1
