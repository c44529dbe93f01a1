"""Vietnamese formatting for everything a person reads: 1.437, 81,6%, 14/11/2025."""

from __future__ import annotations

import datetime as dt

from babel.numbers import format_decimal, format_percent

LOCALE = "vi_VN"


def number(value: float | int, decimals: int = 0) -> str:
    if decimals:
        return format_decimal(value, format=f"#,##0.{'0' * decimals}", locale=LOCALE)
    return format_decimal(value, format="#,##0", locale=LOCALE)


def percent(share: float | None, decimals: int = 1) -> str:
    """`share` is a fraction (0.816 → "81,6%"); None (nothing to divide) → "–"."""
    if share is None:
        return "–"
    return format_percent(share, format=f"#,##0.{'0' * decimals}%", locale=LOCALE)


def share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def date(value: dt.date | None) -> str:
    return "" if value is None else f"{value:%d/%m/%Y}"


def datetime(value: dt.datetime | None) -> str:
    return "" if value is None else f"{value:%d/%m/%Y %H:%M}"


def signed(value: float | int, decimals: int = 0) -> str:
    """A difference with its sign: "+3", "-1.200", "0"."""
    text = number(abs(value), decimals)
    return f"+{text}" if value > 0 else f"-{text}" if value < 0 else text
