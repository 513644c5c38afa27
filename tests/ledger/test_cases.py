"""Cases: the one-month deadline (Art. 12(3) GDPR), ids, validation, and lookups attached to cases."""

from __future__ import annotations

import calendar
import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from privacyops.errors import CaseError
from privacyops.ledger import CASE_TYPES, add_months, audit, close_case, extend_case, get_case, list_cases, open_case
from privacyops.lookup import lookup

D = dt.date


@pytest.mark.parametrize("day, expected", [
    (D(2026, 1, 31), D(2026, 2, 28)),
    (D(2025, 1, 31), D(2025, 2, 28)),
    (D(2024, 1, 31), D(2024, 2, 29)),  # leap year
    (D(2000, 1, 30), D(2000, 2, 29)),  # 2000 is a leap year
    (D(2100, 1, 29), D(2100, 2, 28)),  # 2100 is not
    (D(2026, 4, 30), D(2026, 5, 30)),
    (D(2026, 3, 31), D(2026, 4, 30)),
    (D(2026, 5, 31), D(2026, 6, 30)),
    (D(2026, 12, 31), D(2027, 1, 31)),
    (D(2026, 12, 1), D(2027, 1, 1)),
    (D(2026, 2, 28), D(2026, 3, 28)),
    (D(2026, 6, 15), D(2026, 7, 15)),
])
def test_add_one_month(day, expected):
    assert add_months(day, 1) == expected


@pytest.mark.parametrize("day, months, expected", [
    (D(2026, 1, 31), 0, D(2026, 1, 31)),
    (D(2026, 1, 31), 3, D(2026, 4, 30)),
    (D(2026, 11, 30), 3, D(2027, 2, 28)),
    (D(2024, 2, 29), 12, D(2025, 2, 28)),
    (D(2026, 3, 31), -1, D(2026, 2, 28)),
    (D(2026, 1, 15), -1, D(2025, 12, 15)),
    (D(2026, 1, 31), 25, D(2028, 2, 29)),
])
def test_add_months_general(day, months, expected):
    assert add_months(day, months) == expected


@given(st.dates(min_value=D(1, 1, 1), max_value=D(9998, 12, 31)))
def test_property_one_month_later_is_in_the_next_month_clamped(day):
    due = add_months(day, 1)
    next_year, next_month = (day.year + 1, 1) if day.month == 12 else (day.year, day.month + 1)
    assert (due.year, due.month) == (next_year, next_month)
    assert due.day == min(day.day, calendar.monthrange(next_year, next_month)[1])
    assert due > day


@given(st.dates(min_value=D(1, 1, 1), max_value=D(9000, 12, 31)), st.integers(0, 11_000))
def test_property_add_months_moves_whole_months(day, months):
    got = add_months(day, months)
    assert (got.year * 12 + got.month) - (day.year * 12 + day.month) == months
    assert got.day == min(day.day, calendar.monthrange(got.year, got.month)[1])


def test_open_case_assigns_sequential_ids_per_year_and_due_one_month(mini_ws):
    a = open_case(mini_ws, "access", "2026-01-31", channel="email", verified_by="id card")
    b = open_case(mini_ws, "erasure", dt.date(2026, 3, 10))
    c = open_case(mini_ws, "portability", "2025-12-31")
    d = open_case(mini_ws, "objection", "2026-12-31")
    assert [x.case_id for x in (a, b, c, d)] == ["DSR-2026-0001", "DSR-2026-0002", "DSR-2025-0001",
                                                  "DSR-2026-0003"]
    assert (a.received, a.due) == (D(2026, 1, 31), D(2026, 2, 28))
    assert (b.received, b.due) == (D(2026, 3, 10), D(2026, 4, 10))
    assert (c.received, c.due) == (D(2025, 12, 31), D(2026, 1, 31))
    assert d.due == D(2027, 1, 31)
    assert (a.type, a.status, a.channel, a.verified_by, a.opened_by) == (
        "access", "open", "email", "id card", "test-analyst")
    assert get_case(mini_ws, "DSR-2026-0002") == b
    assert [x.case_id for x in list_cases(mini_ws)] == ["DSR-2025-0001", "DSR-2026-0001", "DSR-2026-0002",
                                                        "DSR-2026-0003"]
    assert [x.case_id for x in list_cases(mini_ws, "closed")] == []
    assert a.to_dict()["due"] == "2026-02-28"


def test_open_case_writes_an_audit_entry_without_the_subject(mini_ws):
    case = open_case(mini_ws, "access", "2026-02-01", subject="janis@mini.example")
    (entry,) = audit.entries(mini_ws)
    assert (entry.action, entry.case_id) == ("case.open", case.case_id)
    assert entry.details["due"] == "2026-03-01"
    assert entry.subject_hash == audit.subject_hash(mini_ws, "janis@mini.example")
    assert "janis" not in str(audit.as_dict(entry)).replace(entry.subject_hash, "")
    assert audit.verify(mini_ws).ok


def test_case_types_are_the_gdpr_requests():
    assert set(CASE_TYPES) == {"access", "portability", "rectification", "erasure", "restriction", "objection",
                               "consent-withdrawal", "complaint"}


@pytest.mark.parametrize("case_type", ["consent-withdrawal", "complaint"])
def test_other_case_types_open(mini_ws, case_type):
    case = open_case(mini_ws, case_type, "2026-05-05")
    assert (case.type, case.due) == (case_type, D(2026, 6, 5))


@pytest.mark.parametrize("bad", ["nonsense", "Access", "", "access "])
def test_unknown_case_type_is_a_clear_case_error(mini_ws, bad):
    with pytest.raises(CaseError) as info:
        open_case(mini_ws, bad, "2026-01-31")
    msg = str(info.value)
    assert f"unknown case type '{bad}'" in msg
    assert "allowed: access, portability, rectification, erasure" in msg
    assert info.value.exit_code == 2
    assert list_cases(mini_ws) == []
    assert audit.entries(mini_ws) == []


@pytest.mark.parametrize("bad", ["31/01/2026", "2026-02-30", "yesterday", "2026-13-01"])
def test_bad_received_date_is_a_clear_case_error(mini_ws, bad):
    with pytest.raises(CaseError) as info:
        open_case(mini_ws, "access", bad)
    assert f"'{bad}'" in str(info.value)
    assert "YYYY-MM-DD" in str(info.value)
    assert list_cases(mini_ws) == []


def test_unknown_case_in_a_fresh_workspace(mini_ws):
    with pytest.raises(CaseError) as info:
        get_case(mini_ws, "DSR-2026-0001")
    assert "unknown case 'DSR-2026-0001'" in str(info.value)


def _no_data_access(monkeypatch):
    """Make any attempt to open a data source fail loudly."""
    def boom(*args, **kwargs):
        raise AssertionError("a data source was opened")

    monkeypatch.setattr("privacyops.workspace.folder.open_source", boom)


def test_lookup_with_unknown_case_raises_before_reading_data(mini_ws, monkeypatch):
    open_case(mini_ws, "access", "2026-01-31")  # the ledger exists, the case id below does not
    before = audit.entries(mini_ws)
    _no_data_access(monkeypatch)
    with pytest.raises(CaseError) as info:
        lookup(mini_ws, "janis@mini.example", case_id="DSR-2026-0099")
    assert "unknown case 'DSR-2026-0099'" in str(info.value)
    assert audit.entries(mini_ws) == before
    assert audit.verify(mini_ws).ok


def test_lookup_with_a_case_in_a_workspace_without_ledger(mini_ws, monkeypatch):
    _no_data_access(monkeypatch)
    with pytest.raises(CaseError) as info:
        lookup(mini_ws, "janis@mini.example", case_id="DSR-2026-0001")
    assert "unknown case 'DSR-2026-0001'" in str(info.value)
    assert audit.entries(mini_ws) == []
    assert not mini_ws.ledger_path.exists()


def test_lookup_with_a_real_case_records_the_case_id(mini_ws):
    case = open_case(mini_ws, "access", "2026-01-31", subject="janis@mini.example")
    result = lookup(mini_ws, "janis@mini.example", case_id=case.case_id)
    assert result.status == "found"
    last = audit.entries(mini_ws)[-1]
    assert (last.action, last.case_id) == ("lookup", "DSR-2026-0001")
    assert last.subject_hash == audit.subject_hash(mini_ws, "janis@mini.example")
    assert audit.verify(mini_ws).ok


def test_lookup_without_a_case_records_no_case_id(mini_ws):
    lookup(mini_ws, "janis@mini.example")
    (entry,) = audit.entries(mini_ws)
    assert entry.case_id is None



# ---------------------------------------------------------------------------------------------------------------
# extensions (Art. 12(3)) and closing


def test_extension_counts_from_receipt_and_records_reason_and_information(mini_ws):
    case = open_case(mini_ws, "access", "2026-01-31")
    assert case.due == dt.date(2026, 2, 28)
    ext = extend_case(mini_ws, case.case_id, 2, "42 linked requests from one subject",
                      informed="2026-02-10", today=dt.date(2026, 2, 10))
    assert ext.extended_due == dt.date(2026, 4, 30)  # three months from receipt in all
    assert ext.deadline == ext.extended_due and ext.due == case.due
    assert ext.extension_reason == "42 linked requests from one subject"
    assert ext.subject_informed == dt.date(2026, 2, 10)
    assert audit.entries(mini_ws, action="case.extend")[-1].details["extended_due"] == "2026-04-30"


def test_extensions_add_up_to_two_months_at_most(mini_ws):
    case = open_case(mini_ws, "erasure", "2026-03-15")
    today = dt.date(2026, 3, 20)
    once = extend_case(mini_ws, case.case_id, 1, "complex", today=today)
    assert once.extended_due == dt.date(2026, 5, 15)
    twice = extend_case(mini_ws, case.case_id, 1, "still complex", today=today)
    assert twice.extended_due == dt.date(2026, 6, 15)
    with pytest.raises(CaseError, match="2 months at most"):
        extend_case(mini_ws, case.case_id, 1, "more", today=today)


@pytest.mark.parametrize("kwargs, message", [
    ({"months": 1, "reason": "x", "today": dt.date(2026, 3, 1)}, "too late"),
    ({"months": 1, "reason": "  ", "today": dt.date(2026, 1, 20)}, "needs its reason"),
    ({"months": 3, "reason": "x", "today": dt.date(2026, 1, 20)}, "2 months at most"),
    ({"months": 1, "reason": "x", "today": dt.date(2026, 1, 20), "informed": "2026-03-01"}, "must be told"),
    ({"months": 1, "reason": "x", "today": dt.date(2026, 1, 20), "informed": "2026-02-30"}, "not a valid date"),
])
def test_extension_rules_refuse_clearly_and_change_nothing(mini_ws, kwargs, message):
    case = open_case(mini_ws, "access", "2026-01-15")
    with pytest.raises(CaseError, match=message):
        extend_case(mini_ws, case.case_id, **kwargs)
    assert get_case(mini_ws, case.case_id).extended_due is None


def test_close_records_outcome_once(mini_ws):
    case = open_case(mini_ws, "access", dt.date.today().isoformat())
    closed = close_case(mini_ws, case.case_id, "archive sent by e-mail, password by SMS")
    assert closed.status == "closed" and closed.outcome.startswith("archive sent")
    assert audit.entries(mini_ws, action="case.close")[-1].details["on_time"] is True
    with pytest.raises(CaseError, match="already closed"):
        close_case(mini_ws, case.case_id, "again")
    with pytest.raises(CaseError, match="only open cases"):
        extend_case(mini_ws, case.case_id, 1, "x")
