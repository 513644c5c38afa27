"""The consent ledger (privacyops consent record|withdraw, the consent panel), the map's `consent:` section, and
the consent report's rules on a hand-made timeline: grants, withdrawals, a re-grant, a tie, consecutive
withdrawals, an unknown action, events after the report date, in one store and across two, combined with
privacyops' own records. Expectations are written out by hand from the timeline below."""

from __future__ import annotations

import datetime as dt
import json

import duckdb
import pytest
from click.testing import CliRunner

from privacyops.cli import main
from privacyops.consent import (
    ConsentError,
    consent_purposes,
    is_direct_marketing,
    list_records,
    record_consent,
    withdraw_consent,
)
from privacyops.errors import DataMapError
from privacyops.ledger import audit, open_ledger, suppression
from privacyops.map import parse_datamap
from privacyops.reports import consent_report
from privacyops.ui import ConsentPanel
from privacyops.workspace import open_workspace
from tests.support import pg as pgserver
from tests.support.mini import MINI_MAP

T = dt.datetime
AS_OF = "2026-06-30"

CONSENT_DATASETS = """
  mail.consent_log:
    source: main
    primary_key: eid
    references: {pid: people.person.pid}
    purposes: [mail]
    fields: {purpose: user.privacy_preferences, act: user.privacy_preferences, at: system.operations,
             how: user.privacy_preferences, notice: system.operations}
  mail.sends:
    source: main
    primary_key: sid
    references: {pid: people.person.pid}
    purposes: [mail]
    fields: {sent_at: system.operations}
"""
CONSENT_SECTION = """
consent:
  events: {dataset: mail.consent_log, subject: pid, purpose: purpose, action: act, at: at, method: how,
           notice: notice, granted: [opt_in, granted], withdrawn: opt_out}
  processing:
    - {dataset: mail.sends, purpose: mail, subject: pid, at: sent_at}
  stale_after: 1 year
"""
# (eid, pid, purpose, act, at, how, notice)
EVENTS = [
    (1, 1, "mail", "opt_in", T(2024, 1, 1), "web_form", "v1"),
    (2, 1, "mail", "opt_out", T(2025, 1, 1), "email_link", "v1"),
    (3, 1, "mail", "maybe", T(2025, 1, 2), "web_form", "v1"),            # an unknown action word
    (4, 2, "mail", "opt_in", T(2023, 1, 1), "import", None),             # no notice version: no proof
    (5, 2, "mail", "opt_out", T(2024, 1, 1), "email_link", "v1"),
    (6, 2, "mail", "opt_in", T(2024, 6, 1), "web_form", "v2"),           # given again: the window closes
    (7, 2, "mail", "opt_out", T(2026, 8, 1), "email_link", "v2"),        # after the report date: not counted
    (8, 3, "mail", "opt_in", T(2025, 5, 5, 10), "web_form", "v2"),
    (9, 3, "mail", "opt_out", T(2025, 5, 5, 10), "web_form", "v2"),      # the same moment: the withdrawal wins
    (10, 4, "mail", "opt_in", T(2024, 1, 1), "web_form", "v1"),
    (11, 4, "mail", "opt_out", T(2024, 2, 1), "email_link", "v1"),
    (12, 4, "mail", "opt_out", T(2024, 3, 1), "email_link", "v1"),       # withdrawn twice
]
# (sid, pid, sent_at)
SENDS = [
    (1, 1, T(2024, 6, 1)),        # consent in force
    (2, 1, T(2025, 2, 1)),        # after withdrawal
    (3, 1, T(2025, 3, 1)),        # after withdrawal
    (4, 2, T(2024, 3, 1)),        # inside the window 2024-01-01 .. 2024-06-01
    (5, 2, T(2024, 7, 1)),        # consent given again
    (6, 3, T(2025, 5, 5, 10)),    # the same moment as the withdrawal: not after it
    (7, 3, T(2025, 5, 6)),        # after withdrawal
    (8, 3, T(2020, 1, 1)),        # before any consent: processing without consent
    (9, 4, T(2024, 2, 15)),       # after the first withdrawal
    (10, 4, T(2024, 4, 1)),       # after the second
    (11, 1, T(2026, 7, 15)),      # after the report date: not counted
]
BREACHES = {("1", "2"), ("1", "3"), ("2", "4"), ("3", "7"), ("4", "9"), ("4", "10")}  # (subject, send key)


def setup_consent(ws, store: str = "main"):
    """The mini workspace with a consent log and marketing sends (the log in Parquet when store='files', both in
    SQLite when store='sqlite')."""
    con = duckdb.connect(str(ws.root / "main.duckdb"))
    con.execute("CREATE TABLE mail.consent_log (eid INTEGER, pid INTEGER, purpose VARCHAR, act VARCHAR, "
                "\"at\" TIMESTAMP, how VARCHAR, notice VARCHAR)")  # "at": a keyword, quoted everywhere
    con.executemany("INSERT INTO mail.consent_log VALUES (?, ?, ?, ?, ?, ?, ?)", EVENTS)
    con.execute("CREATE TABLE mail.sends (sid INTEGER, pid INTEGER, sent_at TIMESTAMP)")
    con.executemany("INSERT INTO mail.sends VALUES (?, ?, ?)", SENDS)
    datasets = CONSENT_DATASETS
    if store == "sqlite":  # both in a SQLite file (timestamps as text): the same queries in another dialect
        import sqlite3

        lite = sqlite3.connect(ws.root / "consent.sqlite")
        lite.execute('CREATE TABLE consent_log (eid INTEGER, pid INTEGER, purpose TEXT, act TEXT, "at" TEXT, '
                     'how TEXT, notice TEXT)')
        lite.executemany("INSERT INTO consent_log VALUES (?, ?, ?, ?, ?, ?, ?)",
                         [(*e[:4], e[4].isoformat(sep=" "), *e[5:]) for e in EVENTS])
        lite.execute("CREATE TABLE sends (sid INTEGER, pid INTEGER, sent_at TEXT)")
        lite.executemany("INSERT INTO sends VALUES (?, ?, ?)", [(a, b, t.isoformat(sep=" ")) for a, b, t in SENDS])
        lite.commit()
        lite.close()
        for name, table in (("mail.consent_log", "consent_log"), ("mail.sends", "sends")):
            datasets = datasets.replace(f"  {name}:\n    source: main\n",
                                        f"  {name}:\n    source: lite\n    table: {table}\n")
    if store == "postgres":  # the tables are in the PostgreSQL database $MINI_CONSENT_DSN names
        for name in ("mail.consent_log", "mail.sends"):
            datasets = datasets.replace(f"  {name}:\n    source: main\n", f"  {name}:\n    source: pg\n")
    if store == "files":
        (ws.root / "files" / "consent").mkdir(parents=True)
        con.execute(f"COPY mail.consent_log TO '{ws.root / 'files' / 'consent' / 'log.parquet'}' (FORMAT parquet)")
        datasets = datasets.replace("  mail.consent_log:\n    source: main\n",
                                    "  mail.consent_log:\n    source: files\n    table: consent/log.parquet\n")
    con.close()
    text = MINI_MAP.replace("\n  mail.subscribers:", datasets + "  mail.subscribers:") + CONSENT_SECTION
    if store == "sqlite":
        text = text.replace("sources:\n", "sources:\n  lite: {kind: sqlite, path: consent.sqlite, location: LV}\n", 1)
    if store == "postgres":
        text = text.replace("sources:\n", "sources:\n  pg: {kind: postgres, dsn_env: MINI_CONSENT_DSN, location: LV}\n",
                            1)
    (ws.root / "privacyops.yaml").write_text(text)
    return open_workspace(ws.root)


@pytest.fixture()
def cws(mini_ws):
    return setup_consent(mini_ws)


def breaches(report) -> set[tuple[str, str]]:
    return {(str(b.subject), b.key) for b in report.breaches}


# -- the report's rules -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("store", ["main", "files", "sqlite"])
def test_consent_report_rules_on_a_hand_made_timeline(mini_ws, store):
    ws = setup_consent(mini_ws, store)
    r = consent_report(ws, AS_OF)
    mail = r.purposes["mail"]
    assert (mail.grant_events, mail.withdrawal_events, mail.other_events) == (5, 5, 1)
    assert mail.no_proof_events == 1
    assert (mail.granted_now, mail.withdrawn_now) == (1, 3)  # only person 2 (given again) consents now
    assert (mail.stale, mail.no_proof_now) == (1, 0)  # 2024-06-01 is older than 1 year; it names method and notice
    assert breaches(r) == BREACHES
    f = r.figures()
    assert f["processing_after_withdrawal"] == 6 and f["subjects_processed_after_withdrawal"] == 4
    assert f["processing_without_consent"] == (None if store == "files" else 1)
    by_subject = {g["subject"]: g for g in r.breach_subjects()}
    assert by_subject[1]["withdrawn_at"] == T(2025, 1, 1) and by_subject[1]["after_withdrawal"] == 2
    assert (by_subject[1]["first"], by_subject[1]["last"]) == (T(2025, 2, 1), T(2025, 3, 1))
    assert r.monthly["2024-01"] == {"granted": 2, "withdrawn": 1}
    assert "2026-08" not in r.monthly
    assert [s["subject"] for s in r.stale_sample] == [2]
    assert "subject 1: mail withdrawn 2025-01-01 00:00, then 2 in mail.sends (2025-02-01 … 2025-03-01)" in r.text()


@pytest.mark.slow
def test_consent_report_rules_in_postgresql(mini_ws, postgres_dsn, monkeypatch):
    import psycopg

    with pgserver.database(postgres_dsn, "consent") as dsn:
        with psycopg.connect(dsn, autocommit=True) as con, con.cursor() as cur:
            cur.execute('CREATE SCHEMA mail; CREATE TABLE mail.consent_log (eid INTEGER, pid INTEGER, purpose TEXT, '
                        'act TEXT, "at" TIMESTAMP, how TEXT, notice TEXT); CREATE TABLE mail.sends (sid INTEGER, '
                        'pid INTEGER, sent_at TIMESTAMP)')
            cur.executemany("INSERT INTO mail.consent_log VALUES (%s, %s, %s, %s, %s, %s, %s)", EVENTS)
            cur.executemany("INSERT INTO mail.sends VALUES (%s, %s, %s)", SENDS)
        monkeypatch.setenv("MINI_CONSENT_DSN", dsn)
        r = consent_report(setup_consent(mini_ws, "postgres"), AS_OF)
    mail = r.purposes["mail"]
    assert (mail.grant_events, mail.withdrawal_events, mail.other_events, mail.no_proof_events) == (5, 5, 1, 1)
    assert (mail.granted_now, mail.withdrawn_now, mail.stale) == (1, 3, 1)
    assert breaches(r) == BREACHES and r.figures()["processing_without_consent"] == 1
    assert r.monthly["2024-01"] == {"granted": 2, "withdrawn": 1}


def test_an_earlier_report_date_sees_the_earlier_state(cws):
    r = consent_report(cws, "2024-12-31")
    assert breaches(r) == {("2", "4"), ("4", "9"), ("4", "10")}
    mail = r.purposes["mail"]
    assert (mail.granted_now, mail.withdrawn_now) == (2, 1)  # persons 1 and 2 in force; 4 withdrawn


def test_privacyops_records_combine_with_the_company_events(cws, monkeypatch):
    monkeypatch.setenv("PRIVACYOPS_ACTOR", "dpo")
    # person 2 withdraws through privacyops after their second grant: the July send now breaches
    withdraw_consent(cws, "janis2@mini.example", "mail", at="2024-06-15")
    # person 1 gives consent again through privacyops: the March send no longer breaches
    record_consent(cws, "people.person:1", "mail", method="phone", notice="v3", at="2025-02-15")
    # a stranger withdraws by e-mail: no company record to match
    withdraw_consent(cws, "stranger@example.org", "mail", at="2025-01-01")
    r = consent_report(cws, AS_OF)
    got = {(str(b.subject), b.key): b.withdrawal_by for b in r.breaches}
    assert set(got) == BREACHES - {("1", "3")} | {("2", "5")}
    assert got[("2", "5")] == "privacyops" and got[("2", "4")] == "company"
    mail = r.purposes["mail"]
    assert (mail.privacyops_grants, mail.privacyops_withdrawals) == (1, 2)
    assert (mail.granted_now, mail.withdrawn_now) == (1, 4)  # 1 given again; 2, 3, 4 and the stranger withdrawn
    assert mail.stale == 1  # person 1's renewed consent (2025-02-15) is older than a year on 2026-06-30
    assert r.privacyops_records == 3 and r.privacyops_unmatched == 1


# -- the ledger ---------------------------------------------------------------------------------------------------

def ledger_rows(ws, sql):
    with open_ledger(ws) as con:
        return con.execute(sql).fetchall()


def test_withdraw_takes_effect_at_once_and_keeps_no_identifier(cws, monkeypatch):
    monkeypatch.setenv("PRIVACYOPS_ACTOR", "analyst")
    result = withdraw_consent(cws, "janis@mini.example", "mail", method="email")
    assert result.direct_marketing and result.suppressed_new == 2 and result.subject_ref == "people.person:1"
    assert "Consent withdrawn" in result.line() and "2 e-mail address(es) on the suppression list" in result.line()
    for email in ("janis@mini.example", "JB@other.example"):  # both of the person's addresses
        assert suppression.check(cws, email).reason == "withdrawal"
    [row] = ledger_rows(cws, "SELECT * FROM consent_records")
    assert "janis" not in json.dumps(row, default=str).lower() and "people.person" not in json.dumps(row, default=str)
    rec = list_records(cws)[0]
    assert (rec.purpose, rec.action, rec.method, rec.recorded_by) == ("mail", "withdrawn", "email", "analyst")
    entry = audit.entries(cws, action="consent.withdraw")[-1]
    assert entry.details["suppressed_new"] == 2 and entry.subject_hash and entry.details["record_id"] == rec.record_id
    again = withdraw_consent(cws, "people.person:1", "mail")
    assert (again.suppressed_new, again.suppressed_already) == (0, 2)
    assert audit.verify(cws).ok


def test_refusals(cws):
    with pytest.raises(ConsentError, match="rests on contract"):
        withdraw_consent(cws, "janis@mini.example", "service")
    with pytest.raises(ConsentError, match="unknown purpose 'mial'.*did you mean 'mail'"):
        withdraw_consent(cws, "janis@mini.example", "mial")
    with pytest.raises(ConsentError, match="2 people match"):
        withdraw_consent(cws, "home@mini.example", "mail")
    with pytest.raises(ConsentError, match="proof"):
        record_consent(cws, "janis@mini.example", "mail", method="web_form", notice=" ")
    with pytest.raises(ConsentError, match="future"):
        record_consent(cws, "janis@mini.example", "mail", method="web", notice="v1", at="2999-01-01")
    with pytest.raises(ConsentError, match="no person found"):
        withdraw_consent(cws, "M-999", "mail")
    assert list_records(cws) == []
    got = withdraw_consent(cws, "home@mini.example", "mail", pick="people.person:4")
    assert got.subject_ref == "people.person:4"


def test_direct_marketing_purposes(cws):
    dm = cws.datamap
    assert consent_purposes(dm) == ["mail"] and is_direct_marketing(dm, "mail")
    assert not is_direct_marketing(dm, "service")


def test_cli_record_withdraw_list(cws):
    runner = CliRunner()

    def run(*args):
        return runner.invoke(main, [*args, "-w", str(cws.root)], env={"PRIVACYOPS_ACTOR": "cli",
                                                                      "PRIVACYOPS_WORKSPACE": None})

    res = run("consent", "record", "janis2@mini.example", "--purpose", "mail", "--method", "web_form",
              "--notice", "v2", "--at", "2026-01-05T10:00")
    assert res.exit_code == 0, res.output
    assert "Consent recorded" in res.output and "notice v2" in res.output
    assert run("consent", "record", "janis2@mini.example", "--purpose", "mail", "--method", "x").exit_code == 2
    res = run("consent", "withdraw", "home@mini.example", "--purpose", "mail", "--pick", "people.person:3", "--json")
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["suppressed_new"] == 1
    res = run("consent", "withdraw", "janis2@mini.example", "--purpose", "service")
    assert res.exit_code == 2 and "rests on contract" in res.output
    res = run("consent", "list", "--json")
    assert [r["action"] for r in json.loads(res.output)] == ["granted", "withdrawn"]
    assert "janis2" not in res.output
    assert suppression.check(cws, "home@mini.example") is not None


# -- the panel ----------------------------------------------------------------------------------------------------

def test_consent_panel_records_a_withdrawal(cws, monkeypatch):
    monkeypatch.setenv("PRIVACYOPS_ACTOR", "panel-user")
    panel = ConsentPanel(cws)
    assert list(panel.purpose.options) == ["mail"] and panel.purpose.value == "mail"
    panel.subject.value = "home@mini.example"
    panel.withdraw_button.click()
    assert panel.result is None and "2 people match" in panel.status.value and "po-error" in panel.status.value
    panel.subject.value = "people.person:2"
    panel.method.value = "phone"
    panel.withdraw_button.click()
    assert panel.error is None and panel.result.record.method == "phone"
    assert "po-confirmation" in panel.status.value and "Consent withdrawn" in panel.status.value
    assert [r.action for r in list_records(cws)] == ["withdrawn"]
    assert suppression.check(cws, "janis2@mini.example") is not None


def test_consent_panel_without_consent_purposes(mini_ws):
    text = (mini_ws.root / "privacyops.yaml").read_text().replace("legal_basis: consent", "legal_basis: contract")
    (mini_ws.root / "privacyops.yaml").write_text(text)
    panel = ConsentPanel(mini_ws.root)
    assert panel.withdraw_button.disabled and "no purpose resting on consent" in panel.status.value


# -- the map's consent: section -----------------------------------------------------------------------------------

def mini_map(section: str, datasets: str = CONSENT_DATASETS) -> str:
    return MINI_MAP.replace("\n  mail.subscribers:", datasets + "  mail.subscribers:") + section


def problems(section: str, datasets: str = CONSENT_DATASETS) -> str:
    with pytest.raises(DataMapError) as info:
        parse_datamap(mini_map(section, datasets), file="privacyops.yaml")
    return "\n".join(str(p) for p in info.value.problems)


def test_consent_section_is_parsed():
    dm = parse_datamap(mini_map(CONSENT_SECTION))
    ev = dm.consent.events
    assert (ev.dataset, ev.subject, ev.at, ev.method, ev.notice) == ("mail.consent_log", "pid", "at", "how", "notice")
    assert ev.granted == ("opt_in", "granted") and ev.withdrawn == ("opt_out",)
    assert [(p.dataset, p.purpose) for p in dm.consent.processing] == [("mail.sends", "mail")]
    assert str(dm.consent.stale_after) == "1 year"
    assert parse_datamap(MINI_MAP).consent is None


@pytest.mark.parametrize("section, message", [
    ("consent:\n  events: {dataset: mail.nope, subject: pid, purpose: purpose, action: act, at: at}\n",
     "consent.events.dataset: unknown dataset 'mail.nope'"),
    ("consent:\n  events: {dataset: mail.consent_log, subject: pid, purpose: purpose, action: act, at: when}\n",
     "consent.events.at: 'when' is not a column of mail.consent_log"),
    ("consent:\n  events: {dataset: mail.consent_log, subject: pid, purpose: purpose, at: at}\n",
     "consent.events.action: is required"),
    ("consent:\n  events: {dataset: mail.consent_log, subject: pid, purpose: purpose, action: act, at: at,"
     " granted: opt, withdrawn: [opt, out]}\n", "cannot mean both granted and withdrawn"),
    ("consent:\n  events: {dataset: mail.consent_log, subject: pid, purpose: purpose, action: act, at: at}\n"
     "  processing:\n    - {dataset: mail.sends, purpose: newsletter, subject: pid, at: sent_at}\n",
     "consent.processing.0.purpose: unknown purpose 'newsletter'"),
    ("consent:\n  events: {dataset: mail.consent_log, subject: pid, purpose: purpose, action: act, at: at}\n"
     "  processing:\n    - {dataset: mail.sends, purpose: service, subject: pid, at: sent_at}\n",
     "mail.sends does not serve purpose 'service'"),
    ("consent:\n  events: {dataset: mail.consent_log, subject: pid, purpose: purpose, action: act, at: at}\n"
     "  processing: {dataset: mail.sends}\n", "expected a list"),
    ("consent:\n  events: {dataset: mail.consent_log, subject: pid, purpose: purpose, action: act, at: at}\n"
     "  stale_after: soon\n", "consent.stale_after: 'soon' is not a period"),
    ("consent:\n  event: {}\n", "unknown key 'event' (did you mean 'events'?)"),
])
def test_consent_section_problems_name_the_place(section, message):
    assert message in problems(section)


def test_consent_columns_are_checked_live_through_the_fields(cws):
    """A column named in consent: must be a declared field, so `privacyops check` compares it with the table."""
    from privacyops.workspace import check_workspace

    assert check_workspace(cws).ok
    text = (cws.root / "privacyops.yaml").read_text().replace("notice: system.operations}",
                                                              "notice: system.operations, consent_notice: "
                                                              "system.operations}")
    text = text.replace("notice: notice,", "notice: consent_notice,")
    (cws.root / "privacyops.yaml").write_text(text)
    report = check_workspace(open_workspace(cws.root))
    assert any("consent_notice" in str(p) and "does not exist" in str(p) for p in report.problems)


def test_security_measures_are_an_optional_list():
    text = MINI_MAP.replace("  contact: privacy@mini.example\n",
                            "  contact: privacy@mini.example\n  security_measures: [TLS everywhere, MFA]\n")
    assert parse_datamap(text).organisation.security_measures == ("TLS everywhere", "MFA")
    assert parse_datamap(MINI_MAP).organisation.security_measures == ()
    bad = MINI_MAP.replace("  contact: privacy@mini.example\n",
                           "  contact: privacy@mini.example\n  security_measures: {tls: yes}\n")
    with pytest.raises(DataMapError, match="organisation.security_measures: expected a list of security measures"):
        parse_datamap(bad)


def test_direct_marketing_is_a_flag_of_the_map_not_a_name():
    from privacyops.consent import is_direct_marketing
    from privacyops.map import parse_datamap
    from tests.support.mini import MINI_MAP

    text = MINI_MAP.replace("  service: {description: Run the service, legal_basis: contract}",
                            "  service: {description: Run the service, legal_basis: contract}\n"
                            "  promo: {description: Offers by post, legal_basis: legitimate_interests, "
                            "direct_marketing: true}\n"
                            "  marketing_research: {description: Surveys, legal_basis: legitimate_interests}")
    dm = parse_datamap(text)
    assert is_direct_marketing(dm, "promo")  # flagged, whatever its name
    assert not is_direct_marketing(dm, "marketing_research")  # named so, but not flagged
    assert is_direct_marketing(dm, "mail")  # rests on consent
    assert not is_direct_marketing(dm, "service")
