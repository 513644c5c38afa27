"""The demo company's words: campaigns, browsers, web pages, IP ranges, ticket subjects and message templates.

Like the people, they are small pools (seeded Faker fills the gaps) that the tables pick from inside DuckDB.
"""

from __future__ import annotations

import random

from faker import Faker

from .demo_people import Columns

__all__ = ["CHATS", "INVITE_DOMAINS", "IP_PREFIXES", "NEWSLETTER_SOURCES", "N_CAMPAIGNS", "PAGES", "TICKET_SUBJECTS",
           "TOPICS", "TPL_PER_KIND", "text_pools"]

NEWSLETTER_SOURCES = ["website_footer", "blog", "webinar", "trade_fair_riga", "partner_import"]
_CAMPAIGN_THEMES = [
    "Spring product update", "Summer newsletter", "Autumn webinar", "Black Friday offer", "Year-end review",
    "New year offer", "Security tips", "Invoicing Cloud launch", "Customer stories", "Partner programme",
    "Webinar: GDPR for small teams", "Mobile app release", "Price update notice", "Feature spotlight",
    "Jāņi holiday greetings", "Student discount",
]
N_CAMPAIGNS = 32
_UA_FIXED = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/129.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Safari/605.1.15",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/129.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:131.0) Gecko/20100101 Firefox/131.0",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/128.0.0.0 Safari/537.36",
]
IP_PREFIXES = ["85.254", "91.105", "212.3", "195.13", "87.110", "46.109", "78.84", "159.148", "83.241", "213.175"]
PAGES = ["/", "/pricing", "/features", "/blog", "/blog/gdpr-checklist", "/docs/getting-started", "/docs/api",
          "/signup", "/login", "/app/dashboard", "/app/invoices", "/app/customers", "/app/settings",
          "/app/settings/billing", "/support", "/contact"]
TICKET_SUBJECTS = [
    "Cannot log in", "Question about my invoice", "Change of address", "Cancel subscription",
    "Please export my data", "Two-factor authentication", "Refund request", "API rate limit",
    "Nevaru pieslēgties", "Rēķina jautājums", "Upgrade to Business plan", "Payment card declined",
    "Add a colleague to the account", "Invoice in Latvian, please", "Bug in the mobile app", "Password reset",
]
TPL_PER_KIND = 8
_TEMPLATES = {
    "first": [
        "Hello, I have a problem with {topic}. Could you help me? {first}",
        "Labdien! Man ir jautājums par {topic}. Paldies, {first}",
        "Hi, since yesterday {topic} does not work for me. Regards, {first}",
        "Good morning, please check {topic} on my account. {first}",
        "Sveiki, lūdzu palīdziet ar {topic}. {first}",
        "Hello support, I need help with {topic} as soon as possible. Thanks, {first}",
        "Hi! Quick question about {topic}. Best, {first}",
        "Dear team, could you look into {topic}? Kind regards, {first}",
    ],
    "followup": [
        "Thanks, that worked.", "Paldies, viss kārtībā!", "It still does not work, sorry.",
        "Thank you for the quick answer.", "Could you also send me a copy of the last invoice?",
        "OK, I will try again tomorrow.", "Great, you can close the ticket.", "Paldies par palīdzību."],
    "own_email": [
        "Please send the documents to {email}, that is the address I use now.",
        "My login e-mail is {email}, in case you need it.",
        "You can reach me at {email}. {first}",
        "Please use {email} for all invoices.",
    ],
    "own_phone": [
        "You can call me at {phone} during the day.",
        "My phone number is {phone}, please call if anything is unclear.",
        "Lūdzu zvaniet man: {phone}. {first}",
        "If e-mail is slow, call me on {phone}.",
    ],
    "other_email": [
        "Please also update my wife's address, her e-mail is {other_email}.",
        "My colleague also needs access, his e-mail is {other_email}.",
        "I am writing for my mother too, her e-mail is {other_email}.",
        "Please send a copy to my accountant at {other_email}.",
    ],
    "other_phone": [
        "If I am away, my husband can answer at {other_phone}.",
        "Please call my colleague on {other_phone}, he manages the account now.",
        "My son helps me with the computer, his number is {other_phone}.",
        "Contact my assistant at {other_phone} for the details.",
    ],
    "agent": [
        "Hello {first}, thank you for contacting us. We are looking into it. Best regards, {agent}",
        "Labdien, {first}! Paldies par ziņu, mēs to izskatīsim. Ar cieņu, {agent}",
        "Hello {first}, this should be fixed now. Please let us know if not. Best regards, {agent}",
        "Hi {first}, could you send us a screenshot? Best regards, {agent}",
        "Hello {first}, we have updated your account as requested. Best regards, {agent}",
        "Hello {first}, the invoice has been re-sent. Best regards, {agent}",
        "Hi {first}, we have forwarded this to our technical team. Best regards, {agent}",
        "Hello {first}, the issue is resolved, closing the ticket. Best regards, {agent}",
    ],
}
# Messages between customers (community.messages): free text that names nobody.
CHATS = [
    "Hi! Have you tried the new bookings calendar? It saved me hours.",
    "Sveiki! Vai tev arī rēķini tagad nāk latviski?",
    "Thanks for the tip about the API, it works now.",
    "Do you know how to add a colleague to the account?",
    "Labdien! Paldies par ieteikumu, pamēģināšu.",
    "Are you going to the webinar on Thursday?",
    "The mobile app update fixed the login problem for me.",
    "Could you share the invoice template you mentioned?",
    "We switched to the Business plan last month, happy so far.",
    "Paldies! Tiksimies pasākumā.",
    "Did the card reader arrive on time for you?",
    "Good morning! Is two-factor sign-in worth turning on?",
]
INVITE_DOMAINS = ["friends.example.com", "invite.example.eu"]  # invited friends' e-mail domains (crm.referrals)
TOPICS = ["my invoice", "the login", "two-factor authentication", "the mobile app", "my subscription",
           "the data export", "the API key", "the payment card", "rēķins", "the bookings calendar"]


def text_pools(seed: int, rnd: random.Random) -> dict[str, Columns]:
    """The text pools (message templates, user agents, campaigns, ticket subjects, topics) for a seed.

    `rnd` is the run's one random stream, drawn from after the people pools (see ``people_pools``).
    """
    en = Faker("en_GB")
    en.seed_instance(seed * 101 + 99)
    ua = _UA_FIXED * 6 + [en.user_agent() for _ in range(64 - 6 * len(_UA_FIXED))]
    campaigns = list(_CAMPAIGN_THEMES) + [en.catch_phrase() for _ in range(N_CAMPAIGNS - len(_CAMPAIGN_THEMES))]
    rnd.shuffle(ua)
    rnd.shuffle(campaigns)
    tpl: Columns = {"kind": [], "idx": [], "body": []}
    for kind, bodies in _TEMPLATES.items():
        for i in range(TPL_PER_KIND):
            tpl["kind"].append(kind)
            tpl["idx"].append(i)
            tpl["body"].append(bodies[i % len(bodies)])
    return {
        "pool_tpl": tpl,
        "pool_ua": {"idx": list(range(len(ua))), "ua": ua},
        "pool_campaign": {"idx": list(range(len(campaigns))), "name": campaigns},
        "pool_subject": {"idx": list(range(len(TICKET_SUBJECTS))), "subject": list(TICKET_SUBJECTS)},
        "pool_topic": {"idx": list(range(len(TOPICS))), "topic": list(TOPICS)},
        "pool_chat": {"idx": list(range(len(CHATS))), "body": list(CHATS)},
    }
