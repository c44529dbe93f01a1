"""Reporting periods in both conventions (interface.md, "Periods").

DVCQG counts by calendar month; Decree 09/2019/NĐ-CP closes figures from the
15th of the previous month to the 14th of the reporting month. Comparing one
with the other is itself a source of false discrepancies, so every figure is
labelled with the period it belongs to.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from typing import Literal

import attrs

from nq57sync.errors import PeriodError

Convention = Literal["calendar", "nd09", "range"]

_FORMS = "2025-11, 2025-11@nd09, 2025-Q4, 2025-Q4@nd09, 2025, 2025@nd09, 2025-11-01..2025-11-30"
_PATTERN = re.compile(
    r"""^(?:
        (?P<start>\d{4}-\d{2}-\d{2})\.\.(?P<end>\d{4}-\d{2}-\d{2})
      | (?P<year>\d{4})(?:-(?:(?P<month>\d{2})|Q(?P<quarter>[1-4])))?(?P<nd09>@nd09)?
    )$""",
    re.VERBOSE | re.IGNORECASE,
)


def _month_span(year: int, month: int) -> tuple[dt.date, dt.date]:
    return dt.date(year, month, 1), dt.date(year, month, calendar.monthrange(year, month)[1])


def _nd09_start(year: int, month: int) -> dt.date:
    """The 15th of the month before `month`."""
    return dt.date(year - 1, 12, 15) if month == 1 else dt.date(year, month - 1, 15)


@attrs.frozen(order=False)
class Period:
    """An inclusive range of local calendar days and how it was named."""

    start: dt.date
    end: dt.date
    convention: Convention = "range"
    label: str = attrs.field(default="", eq=False)

    def __attrs_post_init__(self) -> None:
        if self.end < self.start:
            raise PeriodError(
                f"Kỳ không hợp lệ: ngày kết thúc {self.end:%d/%m/%Y} "
                f"trước ngày bắt đầu {self.start:%d/%m/%Y}."
            )
        if not self.label:
            object.__setattr__(self, "label", f"{self.start.isoformat()}..{self.end.isoformat()}")

    @classmethod
    def parse(cls, text: str) -> Period:
        """Accept every form of interface.md and nothing else."""
        raw = text.strip()
        match = _PATTERN.match(raw)
        if not match:
            raise PeriodError(f"Không hiểu kỳ “{text}”; các dạng hợp lệ: {_FORMS}.")
        try:
            if match["start"]:
                return cls(
                    dt.date.fromisoformat(match["start"]), dt.date.fromisoformat(match["end"]),
                    "range", raw,
                )
            year = int(match["year"])
            nd09 = bool(match["nd09"])
            convention: Convention = "nd09" if nd09 else "calendar"
            if match["month"]:
                month = int(match["month"])
                start, end = _month_span(year, month)
                if nd09:
                    start, end = _nd09_start(year, month), dt.date(year, month, 14)
            elif match["quarter"]:
                first = 3 * int(match["quarter"]) - 2
                start, end = _month_span(year, first)[0], _month_span(year, first + 2)[1]
                if nd09:
                    start, end = _nd09_start(year, first), dt.date(year, first + 2, 14)
            else:
                start, end = dt.date(year, 1, 1), dt.date(year, 12, 31)
                if nd09:
                    start, end = dt.date(year - 1, 12, 15), dt.date(year, 12, 14)
        except ValueError:
            raise PeriodError(
                f"Không hiểu kỳ “{text}”: ngày hoặc tháng không tồn tại; "
                f"các dạng hợp lệ: {_FORMS}."
            ) from None
        return cls(start, end, convention, raw.upper().replace("@ND09", "@nd09"))

    @classmethod
    def resolve(cls, spec: str, today: dt.date) -> Period:
        """A schedule's period: "current", "previous" (either @nd09) or any fixed form."""
        word, _, convention = spec.strip().partition("@")
        if word not in ("current", "previous"):
            return cls.parse(spec)
        suffix = "@nd09" if convention == "nd09" else ""
        month = today.replace(day=1)
        if suffix and today.day >= 15:  # the Decree 09 month under way closes on the 14th next
            month = (month + dt.timedelta(days=32)).replace(day=1)
        if word == "previous":
            month = (month - dt.timedelta(days=1)).replace(day=1)
        return cls.parse(f"{month:%Y-%m}{suffix}")

    @classmethod
    def named(cls, start: dt.date, end: dt.date) -> Period:
        """The days as the form people would write them: a month, Decree 09 month or range."""
        for candidate in (f"{end:%Y-%m}", f"{end:%Y-%m}@nd09"):
            period = cls.parse(candidate)
            if (period.start, period.end) == (start, end):
                return period
        return cls(start, end, "range")

    @classmethod
    def holding(cls, first: dt.date, last: dt.date) -> tuple[Period, str]:
        """The period an export of these received dates was most likely made for, and why.

        The calendar month that holds every date if there is one (the portals'
        own statistics are monthly), else the Decree 09 month, else the span.
        """
        span = f"{first:%d/%m/%Y}–{last:%d/%m/%Y}"
        month = cls.parse(f"{first:%Y-%m}")
        if month.contains(last):
            return month, (f"mọi ngày tiếp nhận trong tệp ({span}) thuộc tháng "
                           f"{first:%m/%Y}")
        closing = first if first.day < 15 else (first.replace(day=1) + dt.timedelta(days=32))
        nd09 = cls.parse(f"{closing:%Y-%m}@nd09")
        if nd09.contains(last):
            return nd09, (f"mọi ngày tiếp nhận trong tệp ({span}) thuộc tháng "
                          f"{nd09.end:%m/%Y} theo Nghị định 09 ({nd09.start:%d/%m}–"
                          f"{nd09.end:%d/%m/%Y})")
        return cls(first, last, "range"), (f"ngày tiếp nhận trong tệp trải qua nhiều tháng; "
                                            f"kỳ là khoảng {span}")

    def overlaps(self, other: Period) -> bool:
        return self.start <= other.end and other.start <= self.end

    def widened(self, days: int) -> Period:
        """The period with `days` more on each side (the right side's lookaround)."""
        if not days:
            return self
        margin = dt.timedelta(days=days)
        return Period(self.start - margin, self.end + margin, "range")

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def contains(self, day: dt.date) -> bool:
        return self.start <= day <= self.end

    def same_span(self, other: Period) -> bool:
        """Figures of two periods are comparable only when their days agree."""
        return (self.start, self.end) == (other.start, other.end)

    def calendar_months(self) -> list[tuple[int, int]]:
        """Every (year, month) the period touches, for month-granular APIs."""
        months, cursor = [], self.start.replace(day=1)
        while cursor <= self.end:
            months.append((cursor.year, cursor.month))
            cursor = (cursor + dt.timedelta(days=32)).replace(day=1)
        return months

    def describe_vi(self) -> str:
        """The phrase a report's header uses, with the convention spelled out."""
        span = f"từ {self.start:%d/%m/%Y} đến {self.end:%d/%m/%Y}"
        if self.convention == "nd09":
            return f"Kỳ báo cáo: {span} (theo Nghị định 09/2019/NĐ-CP)"
        if self.convention == "calendar":
            return f"Kỳ báo cáo: {span} (theo tháng dương lịch)"
        return f"Kỳ báo cáo: {span}"

    def as_json(self) -> dict[str, str]:
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "convention": self.convention,
        }
