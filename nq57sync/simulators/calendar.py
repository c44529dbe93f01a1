"""Working days in Vietnam, for due dates that count them (modeled holidays)."""

from __future__ import annotations

import datetime as dt
import functools

D = dt.date

#: Public holidays as observed in 2025-2026 (Labour Code art. 112, with the
#: Government's announced Tết and bridge days). Modeled: keep it configurable.
HOLIDAYS: frozenset[dt.date] = frozenset({
    D(2025, 1, 1), *(D(2025, 1, 25) + dt.timedelta(days=i) for i in range(9)),
    D(2025, 4, 7), D(2025, 4, 30), D(2025, 5, 1), D(2025, 9, 1), D(2025, 9, 2),
    D(2026, 1, 1), *(D(2026, 2, 14) + dt.timedelta(days=i) for i in range(9)),
    D(2026, 4, 27), D(2026, 4, 30), D(2026, 5, 1), D(2026, 9, 1), D(2026, 9, 2),
})


@functools.cache
def is_working_day(day: dt.date) -> bool:
    return day.weekday() < 5 and day not in HOLIDAYS


def add_working_days(day: dt.date, count: int) -> dt.date:
    """The day `count` working days after `day` (the due day of a procedure)."""
    while count > 0:
        day += dt.timedelta(days=1)
        if is_working_day(day):
            count -= 1
    return day


def working_days(start: dt.date, end: dt.date) -> list[dt.date]:
    days, day = [], start
    while day <= end:
        if is_working_day(day):
            days.append(day)
        day += dt.timedelta(days=1)
    return days
