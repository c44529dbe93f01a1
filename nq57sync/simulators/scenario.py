"""Planting the differences nq57sync exists to find.

Each kind of interface.md is injected on distinct dossiers, chosen so that one
injection produces exactly the records of its kind: a test can then assert
exactly what reconciliation reports.
"""

from __future__ import annotations

import datetime as dt
import random

import attrs

from nq57sync.codes import Channel, Status
from nq57sync.model import VN_TZ, Agency, Dossier, Procedure
from nq57sync.period import Period
from nq57sync.simulators.dataset import Injection, OneStopDossier, Province

#: Every planted kind; `alt_code` is planted too but must match (no record).
KINDS = (
    "missing_in_right", "missing_in_left", "status_mismatch", "timeliness_mismatch",
    "channel_mismatch", "procedure_mismatch", "agency_mismatch", "date_mismatch",
    "sync_pending", "alt_code",
)


@attrs.frozen
class Scenario:
    """What to spoil in a province, and where: dossiers received in `period`."""

    period: Period
    seed: int = 7
    per_kind: int = 2
    kinds: tuple[str, ...] = KINDS
    aggregate_offsets: int = 2      # published figures that disagree with the dossiers
    grace_hours: float = 24.0

    def apply(self, province: Province) -> list[Injection]:
        rng = random.Random(self.seed)
        start = dt.datetime.combine(self.period.start, dt.time(0), VN_TZ)
        stale = province.as_of - dt.timedelta(hours=self.grace_hours * 3)
        candidates = sorted(
            code for code, d in province.onestop.items()
            if d.dossier.received_at and self.period.contains(d.dossier.received_at.date())
            and code in province.portal and d.dossier.updated_at
            and d.dossier.updated_at < stale and d.dossier.received_at > start + dt.timedelta(days=1)
        )
        rng.shuffle(candidates)
        pool = iter(candidates)
        planted: list[Injection] = []

        def take(predicate=lambda d: True) -> OneStopDossier:  # type: ignore[no-untyped-def]
            for code in pool:
                if predicate(province.onestop[code].dossier):
                    return province.onestop[code]
            raise ValueError("không đủ hồ sơ để gieo sai lệch")

        def set_left(item: OneStopDossier, **changes: object) -> Dossier:
            new = attrs.evolve(item.dossier, **changes)
            province.onestop[new.code] = attrs.evolve(item, dossier=new)
            return new

        def set_right(code: str, **changes: object) -> None:
            province.portal[code] = attrs.evolve(province.portal[code], **changes)

        finished = lambda d: d.status == Status.RETURNED and d.finished_at.date() < d.due_at.date()  # noqa: E731
        for kind in self.kinds:
            for _ in range(self.per_kind):
                if kind == "missing_in_right":
                    item = take()
                    del province.portal[item.dossier.code]
                    set_left(item, synced_at=None)
                    planted.append(Injection(kind, item.dossier.code))
                elif kind == "missing_in_left":
                    item = take()
                    ghost = attrs.evolve(item.dossier, code=item.dossier.code[:-5] + "9"
                                         + item.dossier.code[-4:])
                    province.portal[ghost.code] = ghost
                    planted.append(Injection(kind, ghost.code))
                elif kind == "status_mismatch":
                    item = take(finished)
                    set_right(item.dossier.code, status=Status.FINISHED, returned_at=None)
                    planted.append(Injection(kind, item.dossier.code, "status", "10 → 9"))
                    planted.append(Injection("date_mismatch", item.dossier.code, "returned_at",
                                             "chưa trả kết quả trên DVCQG"))
                elif kind == "timeliness_mismatch":
                    item = take(finished)
                    due_day = item.dossier.due_at.date()  # type: ignore[union-attr]
                    left_at = dt.datetime.combine(due_day, dt.time(23, 59, 50), VN_TZ)
                    new = set_left(item, finished_at=left_at, returned_at=left_at + dt.timedelta(
                        minutes=5))
                    province.portal[new.code] = attrs.evolve(
                        province.portal[new.code], finished_at=left_at + dt.timedelta(seconds=30),
                        returned_at=new.returned_at)
                    planted.append(Injection(kind, new.code, "timeliness", "on_time → late"))
                elif kind == "channel_mismatch":
                    item = take()
                    other = Channel.DIRECT if item.dossier.channel != Channel.DIRECT else Channel.ONLINE
                    set_right(item.dossier.code, channel=other)
                    planted.append(Injection(kind, item.dossier.code, "channel"))
                elif kind == "procedure_mismatch":
                    item = take()
                    other = next(p for p in province.procedures
                                 if p.code != item.dossier.procedure.code)
                    set_right(item.dossier.code, procedure=Procedure(other.code, other.name,
                                                                     other.field_code))
                    planted.append(Injection(kind, item.dossier.code, "procedure_code"))
                elif kind == "agency_mismatch":
                    item = take()
                    other = next(a for a in province.agencies if a.code != item.dossier.agency.code)
                    set_right(item.dossier.code, agency=Agency(other.code, other.name))
                    planted.append(Injection(kind, item.dossier.code, "agency_code"))
                elif kind == "date_mismatch":
                    item = take(lambda d: d.received_at.date() > self.period.start)
                    set_right(item.dossier.code,
                              received_at=item.dossier.received_at - dt.timedelta(hours=3))
                    planted.append(Injection(kind, item.dossier.code, "received_at"))
                    # Across the period boundary: still a date difference, not a missing dossier.
                    edge = take(finished)
                    set_left(edge, received_at=start + dt.timedelta(hours=8))
                    set_right(edge.dossier.code, received_at=start - dt.timedelta(hours=15))
                    planted.append(Injection(kind, edge.dossier.code, "received_at",
                                             "qua ranh giới kỳ"))
                elif kind == "sync_pending":
                    # Returned two hours ago; DVCQG still has the previous push.
                    item = take(finished)
                    changed = province.as_of - dt.timedelta(hours=2)
                    set_left(item, returned_at=changed, updated_at=changed, synced_at=None)
                    set_right(item.dossier.code, status=Status.FINISHED, returned_at=None)
                    planted.append(Injection(kind, item.dossier.code, "status"))
                    planted.append(Injection(kind, item.dossier.code, "returned_at"))
                elif kind == "alt_code":
                    item = take()
                    local = item.dossier.code
                    pushed = f"{item.dossier.agency.code}-{item.dossier.received_at:%y%m%d}-7{local[-4:]}"
                    copy = province.portal.pop(local)
                    province.portal[pushed] = attrs.evolve(copy, code=pushed, alt_code=local)
                    planted.append(Injection(kind, local, None, f"DVCQG giữ mã {pushed}"))
                else:
                    raise ValueError(f"unknown kind {kind}")
        agencies = sorted(a.code for a in province.agencies)
        for i in range(self.aggregate_offsets):
            system = ("dvcqg", "motcua")[i % 2]
            code = agencies[rng.randrange(len(agencies))]
            metric = ("received_online", "resolved_late", "pending_overdue")[i % 3]
            province.published_offsets[(system, code, metric)] = (
                province.published_offsets.get((system, code, metric), 0) + 1 + i)
            planted.append(Injection("published_vs_dossiers", code, metric, system))
        province.injections.extend(planted)
        return planted
