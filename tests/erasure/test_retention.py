"""Retention date arithmetic: anchors (a date column, end of month, end of fiscal year), periods with month-end
clamping, and which rules hold against an erasure request. Expectations are written out by hand (calendar facts),
and properties are checked over generated dates."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from privacyops.erasure.retention import (
    AnchorError,
    add_period,
    as_date,
    binding_rule,
    end_of_fiscal_year,
    end_of_month,
    erasable_from,
    is_binding,
    retained_until,
)
from privacyops.map import Anchor, Period, RetentionRule, Settings, parse_datamap
from tests.support.mini import MINI_MAP

D = dt.date
TAX = RetentionRule("tax_records", Period(5, "years"), Anchor("issued_at", "end_of_fiscal_year"), "Accounting Law s.28")
CAL = Settings()
JULY = Settings(fiscal_year_start=(7, 1))


@pytest.mark.parametrize("issued, until", [
    (D(2025, 1, 15), D(2030, 12, 31)),  # the demo's 2025 invoice: 5 years from the end of 2025
    (D(2025, 12, 31), D(2030, 12, 31)),
    (D(2019, 2, 1), D(2024, 12, 31)),
    (dt.datetime(2022, 5, 1, 23, 59), D(2027, 12, 31)),  # a timestamp counts by its date
    ("2021-03-10", D(2026, 12, 31)),
])
def test_tax_rule_counts_five_years_from_the_end_of_the_calendar_fiscal_year(issued, until):
    assert retained_until(TAX, {"issued_at": issued}, CAL) == until


@pytest.mark.parametrize("issued, until", [
    (D(2025, 3, 10), D(2030, 6, 30)),   # fiscal year 2024-07-01 .. 2025-06-30
    (D(2025, 6, 30), D(2030, 6, 30)),
    (D(2025, 7, 1), D(2031, 6, 30)),    # first day of the next fiscal year
    (D(2024, 12, 31), D(2030, 6, 30)),
])
def test_fiscal_year_starting_in_july_ends_on_30_june(issued, until):
    assert retained_until(TAX, {"issued_at": issued}, JULY) == until


def test_null_anchor_means_the_period_has_not_started():
    rule = RetentionRule("contracts", Period(3, "years"), Anchor("closed_at"), "Commercial Law s.406")
    assert retained_until(rule, {"closed_at": None}, CAL) is None
    assert retained_until(rule, {}, CAL) is None
    assert retained_until(rule, {"closed_at": D(2021, 6, 30)}, CAL) == D(2024, 6, 30)


def test_an_anchor_that_is_not_a_date_is_an_error():
    with pytest.raises(AnchorError):
        retained_until(TAX, {"issued_at": "soon"}, CAL)
    with pytest.raises(AnchorError):
        as_date(42)


@pytest.mark.parametrize("start, period, expected", [
    (D(2024, 1, 31), Period(1, "months"), D(2024, 2, 29)),   # clamped to the month's end (leap year)
    (D(2023, 1, 31), Period(1, "months"), D(2023, 2, 28)),
    (D(2024, 2, 29), Period(1, "years"), D(2025, 2, 28)),    # 29 February + 1 year
    (D(2024, 2, 29), Period(4, "years"), D(2028, 2, 29)),
    (D(2024, 8, 31), Period(26, "months"), D(2026, 10, 31)),
    (D(2024, 3, 31), Period(6, "months"), D(2024, 9, 30)),
    (D(2026, 12, 31), Period(30, "days"), D(2027, 1, 30)),
    (D(2026, 12, 31), Period(2, "weeks"), D(2027, 1, 14)),
])
def test_periods(start, period, expected):
    assert add_period(start, period) == expected


def test_end_of_month_anchor():
    rule = RetentionRule("r", Period(1, "months"), Anchor("at", "end_of_month"), "g")
    assert retained_until(rule, {"at": D(2025, 1, 10)}, CAL) == D(2025, 2, 28)
    assert end_of_month(D(2024, 2, 3)) == D(2024, 2, 29)


def test_erasable_the_day_after_the_last_kept_day():
    assert erasable_from(D(2030, 12, 31)) == D(2031, 1, 1)


def test_only_rules_of_legal_obligation_datasets_bind_erasure():
    text = MINI_MAP.replace("  mail: {description: Newsletters, legal_basis: consent}",
                            "  mail: {description: Newsletters, legal_basis: consent}\n"
                            "  books: {description: Bookkeeping, legal_basis: legal_obligation}")
    dm = parse_datamap(text)
    assert not is_binding(dm, dm.datasets["shop.orders"])  # contract only: a maximum, not an obligation
    assert binding_rule(dm, dm.datasets["shop.orders"]) is None
    dm2 = parse_datamap(text.replace("    purposes: [service]\n    retention: orders",
                                     "    purposes: [service, books]\n    retention: orders"))
    assert binding_rule(dm2, dm2.datasets["shop.orders"]).name == "orders"
    assert binding_rule(dm2, dm2.datasets["people.person"]) is None  # no rule at all


dates = st.dates(min_value=D(1990, 1, 1), max_value=D(2200, 12, 31))
starts = st.tuples(st.integers(1, 12), st.integers(1, 28))


@settings(max_examples=300, deadline=None)
@given(dates, starts)
def test_fiscal_year_end_properties(day, start):
    end = end_of_fiscal_year(day, start)
    nxt = end + dt.timedelta(days=1)
    assert (nxt.month, nxt.day) == start  # the day after the end starts a fiscal year
    assert day <= end < day + dt.timedelta(days=366)  # the year containing `day`, not a later one
    assert end_of_fiscal_year(end, start) == end  # the last day belongs to its own year


@settings(max_examples=300, deadline=None)
@given(dates, st.integers(0, 240))
def test_month_periods_clamp_and_never_overshoot(day, months):
    got = add_period(day, Period(months, "months"))
    assert (got.year * 12 + got.month) - (day.year * 12 + day.month) == months
    assert got.day == day.day or (got.day < day.day and (got + dt.timedelta(days=1)).day == 1)


@settings(max_examples=200, deadline=None)
@given(dates, st.integers(1, 10))
def test_retention_is_monotonic_in_the_anchor(day, years):
    rule = RetentionRule("r", Period(years, "years"), Anchor("at", "end_of_fiscal_year"), "g")
    later = day + dt.timedelta(days=40)
    assert retained_until(rule, {"at": day}, CAL) <= retained_until(rule, {"at": later}, CAL)
    assert retained_until(rule, {"at": day}, CAL) > day
