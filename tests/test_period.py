import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nq57sync import Period, PeriodError

D = dt.date


@pytest.mark.parametrize(
    ("text", "start", "end", "convention"),
    [
        ("2025-11", D(2025, 11, 1), D(2025, 11, 30), "calendar"),
        ("2024-02", D(2024, 2, 1), D(2024, 2, 29), "calendar"),
        ("2025-11@nd09", D(2025, 10, 15), D(2025, 11, 14), "nd09"),
        ("2025-01@nd09", D(2024, 12, 15), D(2025, 1, 14), "nd09"),
        ("2025-Q4", D(2025, 10, 1), D(2025, 12, 31), "calendar"),
        ("2025-Q4@nd09", D(2025, 9, 15), D(2025, 12, 14), "nd09"),
        ("2025-Q1@nd09", D(2024, 12, 15), D(2025, 3, 14), "nd09"),
        ("2025", D(2025, 1, 1), D(2025, 12, 31), "calendar"),
        ("2025@nd09", D(2024, 12, 15), D(2025, 12, 14), "nd09"),
        ("2026-01-01..2026-02-11", D(2026, 1, 1), D(2026, 2, 11), "range"),
    ],
)
def test_every_form_of_interface_md(text, start, end, convention):
    period = Period.parse(text)
    assert (period.start, period.end, period.convention) == (start, end, convention)
    assert period.label == text


def test_report_header_spells_out_the_convention():
    assert Period.parse("2025-11@nd09").describe_vi().startswith(
        "Kỳ báo cáo: từ 15/10/2025 đến 14/11/2025")
    assert "Nghị định 09/2019" in Period.parse("2025-11@nd09").describe_vi()


@pytest.mark.parametrize("text", ["", "2025-13", "2025-Q5", "11/2025", "2025-11@nd10",
                                  "2025-02-30..2025-03-01", "2025-12-01..2025-11-01", "tháng 11"])
def test_rejects_other_forms_with_a_vietnamese_sentence(text):
    with pytest.raises(PeriodError) as info:
        Period.parse(text)
    assert "kỳ" in str(info.value).lower()


def test_calendar_months_touched():
    assert Period.parse("2025-11@nd09").calendar_months() == [(2025, 10), (2025, 11)]
    assert Period.parse("2025-Q4").calendar_months() == [(2025, 10), (2025, 11), (2025, 12)]


@given(st.text(max_size=40))
def test_any_text_parses_or_raises_period_error(text):
    try:
        period = Period.parse(text)
    except PeriodError:
        return
    assert period.start <= period.end


@given(st.dates(min_value=D(2000, 1, 1), max_value=D(2099, 12, 31)))
def test_nd09_months_tile_the_calendar(day):
    """Every day belongs to exactly one Decree 09 month."""
    owners = [
        Period.parse(f"{y}-{m:02d}@nd09")
        for y in (day.year, day.year + 1) for m in range(1, 13)
        if Period.parse(f"{y}-{m:02d}@nd09").contains(day)
    ]
    assert len(owners) == 1
