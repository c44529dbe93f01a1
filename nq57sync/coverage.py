"""Which snapshots of a source hold a period's dossiers.

The store keeps every source's dossiers as versions; a snapshot marks what a
pull or an import saw of its own period and agencies. A period is covered when
the complete snapshots of one scope together hold every one of its days: a
month from a monthly import, a quarter from three of them, a Decree 09 month
from two calendar months. Reading as of the newest of them gives each dossier's
latest known state.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence

import attrs

from nq57sync import vi
from nq57sync.model import Snapshot
from nq57sync.period import Period


@attrs.frozen
class Coverage:
    """A source's snapshots for a period: `newest` is read as of, `used` hold its days."""

    source: str
    period: Period
    newest: Snapshot | None
    used: tuple[Snapshot, ...]
    scope: str
    missing: tuple[Period, ...]

    @property
    def complete(self) -> bool:
        return self.newest is not None and not self.missing

    def as_json(self) -> list[dict[str, object]]:
        return [{"id": s.id, "kind": s.kind, "period": s.period.as_json(),
                 "label": s.period.label} for s in self.used]

    def describe_missing(self) -> str:
        """One Vietnamese sentence: which days are missing and the commands that fill them."""
        gaps = ", ".join(f"{vi.date(p.start)}–{vi.date(p.end)}" for p in self.missing[:3])
        if len(self.missing) > 3:
            gaps += f" và {vi.number(len(self.missing) - 3)} khoảng khác"
        first = self.missing[0]
        return (f"Chưa có ảnh chụp hoàn tất của nguồn “{self.source}” cho các ngày {gaps} "
                f"(kỳ {self.period.label}); hãy chạy: nq57sync sync --period {first.label} "
                f"--source {self.source}, hoặc nhập tệp xuất của các ngày đó: nq57sync import "
                f"--source {self.source} --period {first.label} TỆP")


def cover(source: str, period: Period, overlapping: Sequence[Snapshot]) -> Coverage:
    """The coverage of `period` by a source's complete snapshots that overlap it (newest first).

    A snapshot holds the agencies of its scope (`*`: every one). The widest
    scope whose snapshots together hold every day is chosen; a snapshot of
    more agencies also serves a narrower scope. The newest snapshot of all is
    read as of, since the store holds each dossier's latest version.
    """
    newest = overlapping[0] if overlapping else None
    scopes = sorted(dict.fromkeys(["*", *(s.scope for s in overlapping)]),
                    key=lambda scope: -len(_agencies(scope) or range(10**9)))
    best: tuple[tuple[Snapshot, ...], str, tuple[Period, ...]] | None = None
    for scope in scopes:
        group = [s for s in overlapping if _holds(s.scope, scope)]
        if not group:
            continue
        used, missing = _walk(period, group)
        if best is None or len(_days(missing)) < len(_days(best[2])):
            best = (used, scope, missing)
        if not missing:
            break
    if best is None:
        return Coverage(source, period, None, (), "*", (period,))
    used, scope, missing = best
    return Coverage(source, period, newest, used, scope, missing)


def _agencies(scope: str) -> frozenset[str]:
    return frozenset() if scope == "*" else frozenset(json.loads(scope))


def _holds(scope: str, wanted: str) -> bool:
    """Whether a snapshot of `scope` holds every agency of `wanted`."""
    return scope == "*" or (wanted != "*" and _agencies(wanted) <= _agencies(scope))


def _walk(period: Period, group: Sequence[Snapshot]) -> tuple[tuple[Snapshot, ...], tuple[Period, ...]]:
    """Newest first, keep each snapshot that holds a day not yet held."""
    wanted = set(_days((period,)))
    used = []
    for snap in group:
        held = wanted & set(_days((snap.period,)))
        if held:
            used.append(snap)
            wanted -= held
        if not wanted:
            break
    return tuple(used), _runs(sorted(wanted))


def _days(periods: Sequence[Period]) -> list[int]:
    return [d for p in periods for d in range(p.start.toordinal(), p.end.toordinal() + 1)]


def _runs(days: list[int]) -> tuple[Period, ...]:
    """Consecutive days as periods, each named as people would write it."""
    out: list[Period] = []
    start = prev = None
    for day in [*days, None]:
        if day is not None and prev is not None and day == prev + 1:
            prev = day
            continue
        if start is not None and prev is not None:
            out.append(Period.named(dt.date.fromordinal(start), dt.date.fromordinal(prev)))
        start = prev = day
    return tuple(out)
