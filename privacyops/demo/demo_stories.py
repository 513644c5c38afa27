"""The story people: hand-made edge cases present for every seed and every ``subjects`` >= 10, and their records.

``STORIES`` describes each person (what tests and notebooks look for); ``STORY_ROWS`` holds their rows in table
column order. They always take the lowest ids (1..``STORY_CUSTOMERS``); the bulk customers follow them.
"""

from __future__ import annotations

import datetime

__all__ = ["STORIES", "STORY_CUSTOMERS", "STORY_ROWS"]

STORIES: dict[str, dict] = {
    "two_emails": {
        "customer_id": 1,
        "full_name": "Jānis Bērziņš",
        "email": "janis.berzins@example.lv",
        "phone": "+371 2912 3456",
        "account_ids": [1, 2],
        "account_emails": ["janis.berzins@example.lv", "j.berzins@inbox.example.lv"],
        "usernames": ["janis.berzins", "jberzins"],
        "ticket_ids": [1, 2],
        "invoice_ids": [1, 2, 3, 4, 5],
        "mentions_email": "anna.ozola@example.lv",  # his ticket message names Anna's e-mail
        "consent_granted_at": "2023-04-02",
        "consent_withdrawn_at": "2025-03-01",
        "send_after_withdrawal_at": "2025-04-10",
        "newsletter_email": "j.berzins@inbox.example.lv",
        "delivery_address_id": 1,  # his office, with his own phone
        "messages_sent": [1],  # to Anna
        "messages_received": [2, 4],  # from his namesake and from Anna (her phone in the text)
        "referrals_made": [1, 2],  # his namesake (joined), and Elza (invited by e-mail, not a customer)
        "referred_in": [4],  # Anna referred him
    },
    "name_variant": {
        "customer_id": 2,
        "full_name": "Janis Berzins",
        "email": "janis.berzins77@example.com",
        "phone": "+371 2961 7701",
        "account_ids": [3],
        "account_emails": ["janis.berzins77@example.com"],
        "usernames": ["janis77"],
        "ticket_ids": [],
        "invoice_ids": [6, 7],
        "delivery_address_id": None,
        "messages_sent": [2],
        "messages_received": [],
        "referrals_made": [],
        "referred_in": [1],
    },
    "family_a": {
        "customer_id": 3,
        "full_name": "Pēteris Kalniņš",
        "email": "kalnini.family@example.lv",
        "phone": "+371 2934 5678",
        "account_ids": [4],
        "account_emails": ["kalnini.family@example.lv"],
        "usernames": ["peteris.kalnins"],
        "ticket_ids": [3],
        "invoice_ids": [8, 9],
        "delivery_address_id": 2,  # the family's home, shared with Ilze (co-owned)
        "delivery_phone": "+371 6190 1234",  # the home's landline
        "messages_sent": [3],
        "messages_received": [],
        "referrals_made": [3],
        "referred_in": [],
    },
    "family_b": {
        "customer_id": 4,
        "full_name": "Ilze Kalniņa",
        "email": "kalnini.family@example.lv",
        "phone": "2934-8765",
        "account_ids": [5],
        "account_emails": ["kalnini.family@example.lv"],
        "usernames": ["ilze.kalnina"],
        "ticket_ids": [4],
        "invoice_ids": [10, 11],
        "delivery_address_id": 2,
        "delivery_phone": "+371 6190 1234",
        "messages_sent": [],
        "messages_received": [3],
        "referrals_made": [],
        "referred_in": [3],
    },
    "closed": {
        "customer_id": 5,
        "full_name": "Anna Ozola",
        "email": "anna.ozola@example.lv",
        "phone": "+371 2945 1122",
        "account_ids": [6],
        "account_emails": ["anna.ozola@example.lv"],
        "usernames": ["anna.ozola"],
        "ticket_ids": [5],
        "invoice_ids": [12, 13, 14],
        "closed_at": "2021-06-30",
        "mentions_email": "janis.berzins@example.lv",  # her ticket names Jānis's e-mail
        "delivery_address_id": None,
        "messages_sent": [4],
        "messages_received": [1],
        "referrals_made": [4],
        "referred_in": [],
    },
    "withdrawn": {
        "customer_id": 6,
        "full_name": "Līga Liepiņa",
        "email": "liga.liepina@example.lv",
        "phone": "+37129563344",
        "account_ids": [7],
        "account_emails": ["liga.liepina@example.lv"],
        "usernames": ["liga.l"],
        "ticket_ids": [6],
        "invoice_ids": [15],
        "consent_granted_at": "2020-01-10",
        "consent_withdrawn_at": "2024-06-15",
        "delivery_address_id": 3,
        "messages_sent": [],
        "messages_received": [],
        "referrals_made": [],
        "referred_in": [],
    },
    "prospect": {
        "customer_id": None,
        "full_name": None,
        "email": "marta.prospect@example.net",
        "newsletter_email": "marta.prospect@example.net",
    },
    "invited": {  # a friend Jānis invited: not a customer, known only by the e-mail in his referral
        "customer_id": None,
        "full_name": None,
        "email": "elza.krastina@example.net",
        "referred_in": [2],
    },
}
for _s in STORIES.values():
    _s["subject"] = "customer" if _s["customer_id"] is not None else None

STORY_CUSTOMERS = max(s["customer_id"] or 0 for s in STORIES.values())  # bulk customers start after this id


def _ts(s: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(s)


def _d(s: str) -> datetime.date:
    return datetime.date.fromisoformat(s)


# Rows in table column order (ids explicit and contiguous from 1, ordered by their foreign key).
STORY_ROWS: dict[str, list[tuple]] = {
    # ..., status, delivery_address_id (the family shares one delivery address)
    "crm.customers": [
        (1, "Jānis Bērziņš", "janis.berzins@example.lv", "+371 2912 3456", "Brīvības iela 101-5", "Rīga",
         "LV-1001", "LV", _ts("2018-03-12 09:00:00"), None, "active", 1),
        (2, "Janis Berzins", "janis.berzins77@example.com", "+371 2961 7701", "Lielā iela 7", "Jelgava",
         "LV-3001", "LV", _ts("2020-11-05 14:20:00"), None, "active", None),
        (3, "Pēteris Kalniņš", "kalnini.family@example.lv", "+371 2934 5678", "Ulbrokas iela 23-14", "Rīga",
         "LV-1021", "LV", _ts("2019-04-01 18:45:00"), None, "active", 2),
        (4, "Ilze Kalniņa", "kalnini.family@example.lv", "2934-8765", "Ulbrokas iela 23-14", "Rīga",
         "LV-1021", "LV", _ts("2019-04-03 20:10:00"), None, "active", 2),
        (5, "Anna Ozola", "anna.ozola@example.lv", "+371 2945 1122", "Tērbatas iela 14-3", "Rīga",
         "LV-1011", "LV", _ts("2017-05-20 11:30:00"), _ts("2021-06-30 16:00:00"), "closed", None),
        (6, "Līga Liepiņa", "liga.liepina@example.lv", "+37129563344", "Jūras iela 5", "Jūrmala",
         "LV-2015", "LV", _ts("2019-09-09 10:00:00"), None, "active", 3),
    ],
    # address_id, street, city, postal_code, country, phone, last_used_at
    "crm.delivery_addresses": [
        (1, "Skanstes iela 50", "Rīga", "LV-1013", "LV", "+371 2912 3456", _ts("2026-10-05 11:00:00")),
        (2, "Ulbrokas iela 23-14", "Rīga", "LV-1021", "LV", "+371 6190 1234", _ts("2026-03-18 14:30:00")),
        (3, "Jūras iela 5", "Jūrmala", "LV-2015", "LV", None, _ts("2022-05-20 10:00:00")),
    ],
    # referral_id, referrer_id, referred_id, referred_email, referred_on, status
    "crm.referrals": [
        (1, 1, 2, None, _d("2020-10-28"), "joined"),
        (2, 1, None, "elza.krastina@example.net", _d("2026-10-20"), "invited"),
        (3, 3, 4, None, _d("2019-04-02"), "joined"),
        (4, 5, 1, None, _d("2018-03-01"), "joined"),
    ],
    # account_id, customer_id, username, email, created_at, last_login_at, closed_at (password_hash added later)
    "app.user_accounts": [
        (1, 1, "janis.berzins", "janis.berzins@example.lv", _ts("2018-03-12 09:05:00"),
         _ts("2026-11-10 08:12:00"), None),
        (2, 1, "jberzins", "j.berzins@inbox.example.lv", _ts("2021-09-01 19:40:00"),
         _ts("2026-10-28 21:03:00"), None),
        (3, 2, "janis77", "janis.berzins77@example.com", _ts("2020-11-05 14:25:00"),
         _ts("2026-09-14 12:00:00"), None),
        (4, 3, "peteris.kalnins", "kalnini.family@example.lv", _ts("2019-04-01 18:50:00"),
         _ts("2026-11-02 07:30:00"), None),
        (5, 4, "ilze.kalnina", "kalnini.family@example.lv", _ts("2019-04-03 20:15:00"),
         _ts("2026-10-30 19:45:00"), None),
        (6, 5, "anna.ozola", "anna.ozola@example.lv", _ts("2017-05-20 11:35:00"),
         _ts("2021-06-29 09:10:00"), _ts("2021-06-30 16:00:00")),
        (7, 6, "liga.l", "liga.liepina@example.lv", _ts("2019-09-09 10:05:00"),
         _ts("2026-08-01 17:00:00"), None),
    ],
    # ticket_id, customer_id, agent_id, subject, status, opened_at, closed_at
    "support.tickets": [
        (1, 1, 3, "Neighbour wants to close her account", "closed", _ts("2021-06-20 10:00:00"),
         _ts("2021-06-22 15:00:00")),
        (2, 1, 5, "Stop marketing e-mails and call me", "closed", _ts("2025-02-27 08:30:00"),
         _ts("2025-03-01 09:30:00")),
        (3, 3, 1, "Invoice address for the family account", "closed", _ts("2022-01-10 12:00:00"),
         _ts("2022-01-11 09:00:00")),
        (4, 4, 2, "Nevaru pieslēgties / cannot log in", "open", _ts("2026-11-10 07:45:00"), None),
        (5, 5, 4, "Please close my account", "closed", _ts("2021-06-25 09:00:00"),
         _ts("2021-06-30 16:00:00")),
        (6, 6, 6, "Unsubscribe", "closed", _ts("2024-06-14 18:00:00"), _ts("2024-06-15 10:00:00")),
    ],
    # message_id, ticket_id, author_type, body, sent_at
    "support.ticket_messages": [
        (1, 1, "customer",
         "Hello, my neighbour Anna Ozola asked me to tell you that she wants to close her account. "
         "Her e-mail is anna.ozola@example.lv, she will write to you herself too.",
         _ts("2021-06-20 10:00:00")),
        (2, 1, "agent",
         "Hello Jānis, thank you. We can only close an account at the request of its owner; "
         "we will wait for her message. Best regards, Ilze", _ts("2021-06-21 09:15:00")),
        (3, 1, "customer", "Understood, thanks!", _ts("2021-06-22 14:50:00")),
        (4, 2, "customer",
         "Please stop sending me marketing e-mails. And please call me back about my invoices "
         "at +371 2912 3456.", _ts("2025-02-27 08:30:00")),
        (5, 2, "agent",
         "Hello Jānis, we have unsubscribed you from marketing e-mails and a colleague will call you. "
         "Best regards, Anete", _ts("2025-03-01 09:30:00")),
        (6, 3, "customer",
         "We share one e-mail in the family, please put my name on the invoices. Pēteris",
         _ts("2022-01-10 12:00:00")),
        (7, 3, "agent", "Hello Pēteris, done. Best regards, Kristaps", _ts("2022-01-11 09:00:00")),
        (8, 4, "customer", "Sveiki, nevaru pieslēgties savam kontam. Ilze", _ts("2026-11-10 07:45:00")),
        (9, 4, "agent", "Hello Ilze, we have sent a password reset link. Best regards, Mārtiņš",
         _ts("2026-11-10 11:20:00")),
        (10, 5, "customer",
         "Please close my account. My neighbour Jānis (janis.berzins@example.lv) keeps using your "
         "service, so please do not close his.", _ts("2021-06-25 09:00:00")),
        (11, 5, "agent", "Hello Anna, your account will be closed on 30 June. Best regards, Rūta",
         _ts("2021-06-28 13:00:00")),
        (12, 5, "customer", "Thank you.", _ts("2021-06-30 16:00:00")),
        (13, 6, "customer", "Please unsubscribe me from your newsletter and offers.",
         _ts("2024-06-14 18:00:00")),
        (14, 6, "agent", "Hello Līga, you have been unsubscribed. Best regards, Edgars",
         _ts("2024-06-15 10:00:00")),
    ],
    # message_id, sender_id, recipient_id, body, sent_at
    "community.messages": [
        (1, 1, 5, "Hi Anna, I passed your message on to support. They will wait for you to write to them yourself.",
         _ts("2021-06-20 10:30:00")),
        (2, 2, 1, "Hello namesake! I think a parcel meant for you came to me in Jelgava.",
         _ts("2026-09-20 12:00:00")),
        (3, 3, 4, "Ilze, I asked support to put my name on our invoices. Pēteris", _ts("2022-01-11 10:00:00")),
        (4, 5, 1, "Thank you, Jānis! If they need me, they can call me at +371 2945 1122. Anna",
         _ts("2021-06-20 18:05:00")),
    ],
    # invoice_id, invoice_no, customer_id, billing_name, billing_address, vat_number, issued_at (amount from lines)
    "billing.invoices": [
        (1, "BSF-2019-0000001", 1, "Jānis Bērziņš", "Brīvības iela 101-5, LV-1001 Rīga, Latvia", None,
         _d("2019-02-01")),
        (2, "BSF-2019-0000002", 1, "Jānis Bērziņš", "Brīvības iela 101-5, LV-1001 Rīga, Latvia", None,
         _d("2019-08-01")),
        (3, "BSF-2022-0000003", 1, "Jānis Bērziņš", "Brīvības iela 101-5, LV-1001 Rīga, Latvia", None,
         _d("2022-05-01")),
        (4, "BSF-2025-0000004", 1, "Jānis Bērziņš", "Brīvības iela 101-5, LV-1001 Rīga, Latvia", None,
         _d("2025-01-15")),
        (5, "BSF-2025-0000005", 1, "Jānis Bērziņš", "Brīvības iela 101-5, LV-1001 Rīga, Latvia", None,
         _d("2025-07-15")),
        (6, "BSF-2021-0000006", 2, "Janis Berzins", "Lielā iela 7, LV-3001 Jelgava, Latvia", None,
         _d("2021-03-10")),
        (7, "BSF-2024-0000007", 2, "SIA Berzins IT", "Lielā iela 7, LV-3001 Jelgava, Latvia", "LV40003987654",
         _d("2024-03-10")),
        (8, "BSF-2020-0000008", 3, "Pēteris Kalniņš", "Ulbrokas iela 23-14, LV-1021 Rīga, Latvia", None,
         _d("2020-04-01")),
        (9, "BSF-2024-0000009", 3, "Pēteris Kalniņš", "Ulbrokas iela 23-14, LV-1021 Rīga, Latvia", None,
         _d("2024-04-01")),
        (10, "BSF-2021-0000010", 4, "Ilze Kalniņa", "Ulbrokas iela 23-14, LV-1021 Rīga, Latvia", None,
         _d("2021-09-01")),
        (11, "BSF-2025-0000011", 4, "Ilze Kalniņa", "Ulbrokas iela 23-14, LV-1021 Rīga, Latvia", None,
         _d("2025-09-01")),
        (12, "BSF-2018-0000012", 5, "Anna Ozola", "Tērbatas iela 14-3, LV-1011 Rīga, Latvia", None,
         _d("2018-02-01")),
        (13, "BSF-2019-0000013", 5, "Anna Ozola", "Tērbatas iela 14-3, LV-1011 Rīga, Latvia", None,
         _d("2019-02-01")),
        (14, "BSF-2020-0000014", 5, "Anna Ozola", "Tērbatas iela 14-3, LV-1011 Rīga, Latvia", None,
         _d("2020-02-01")),
        (15, "BSF-2023-0000015", 6, "Līga Liepiņa", "Jūras iela 5, LV-2015 Jūrmala, Latvia", None,
         _d("2023-05-05")),
    ],
    # event_id, customer_id, purpose, action, occurred_at, method, notice_version
    "marketing.consent_events": [
        (1, 1, "marketing", "granted", _ts("2023-04-02 10:15:00"), "web_form", "v3.1"),
        (2, 1, "analytics", "granted", _ts("2023-04-02 10:15:30"), "web_form", "v3.1"),
        (3, 1, "marketing", "withdrawn", _ts("2025-03-01 09:30:00"), "support_request", "v3.1"),
        (4, 3, "marketing", "granted", _ts("2022-02-02 19:00:00"), "email_link", "v2.0"),
        (5, 5, "marketing", "granted", _ts("2018-01-15 00:00:00"), "import", None),
        (6, 6, "marketing", "granted", _ts("2020-01-10 12:00:00"), "web_form", "v2.0"),
        (7, 6, "marketing", "withdrawn", _ts("2024-06-15 10:00:00"), "email_link", "v3.1"),
    ],
    # send_id, customer_id, email, campaign, sent_at, opened_at
    "marketing.email_sends": [
        (1, 1, "janis.berzins@example.lv", "Spring product update 2023-05", _ts("2023-05-10 09:00:00"),
         _ts("2023-05-10 12:31:00")),
        (2, 1, "janis.berzins@example.lv", "Black Friday offer 2023-11", _ts("2023-11-20 09:00:00"), None),
        (3, 1, "janis.berzins@example.lv", "Webinar: GDPR for small teams 2024-06", _ts("2024-06-01 09:00:00"),
         _ts("2024-06-02 08:02:00")),
        (4, 1, "janis.berzins@example.lv", "Year-end review 2024-12", _ts("2024-12-05 09:00:00"), None),
        (5, 1, "janis.berzins@example.lv", "Spring offer 2025-04", _ts("2025-04-10 09:00:00"),
         _ts("2025-04-10 19:45:00")),
        (6, 3, "kalnini.family@example.lv", "Family plan launch 2022-03", _ts("2022-03-01 09:00:00"), None),
        (7, 3, "kalnini.family@example.lv", "Spring product update 2023-03", _ts("2023-03-01 09:00:00"),
         _ts("2023-03-03 21:10:00")),
        (8, 5, "anna.ozola@example.lv", "Summer newsletter 2018-06", _ts("2018-06-01 09:00:00"), None),
        (9, 5, "anna.ozola@example.lv", "Summer newsletter 2019-06", _ts("2019-06-01 09:00:00"), None),
        (10, 5, "anna.ozola@example.lv", "Summer newsletter 2020-06", _ts("2020-06-01 09:00:00"),
         _ts("2020-06-04 10:00:00")),
        (11, 6, "liga.liepina@example.lv", "New year offer 2021-01", _ts("2021-01-04 09:00:00"), None),
        (12, 6, "liga.liepina@example.lv", "New year offer 2023-01", _ts("2023-01-04 09:00:00"),
         _ts("2023-01-04 13:13:00")),
        (13, 6, "liga.liepina@example.lv", "Spring product update 2024-05", _ts("2024-05-02 09:00:00"), None),
    ],
    # signup_id, email, signed_up_at, source
    "marketing.newsletter_signups": [
        (1, "j.berzins@inbox.example.lv", _ts("2021-10-03 21:14:00"), "blog"),
        (2, "marta.prospect@example.net", _ts("2024-09-12 16:40:00"), "webinar"),
    ],
}
