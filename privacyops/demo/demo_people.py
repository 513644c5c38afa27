"""The people of the demo company: names, addresses, e-mail domains and companies, as seeded Faker pools.

Faker (seeded) only builds small pools per country (and gender); the tables pick from them by hashed index inside
DuckDB. E-mail numbers and phone digits are bijections of the customer id (``MUL``), so they never collide.
"""

from __future__ import annotations

import random
import re
import unicodedata

from faker import Faker

from .demo_stories import STORIES

__all__ = ["ALT_DOMAINS", "COUNTRY_NAMES", "LOCALES", "MUL", "POOL", "PROSPECT_DOMAINS", "STORY_NAME_SQL", "Columns",
           "ascii_fold", "people_pools"]

Columns = dict[str, list]
"""One pool as columns (name -> values), loaded into DuckDB as a temporary table."""

# e-mail numbers (100 + x mod 9,900,000) and phone digits (2,000,000 + x mod 7,000,000) are bijections of the
# customer id: x = id * MUL + offset with MUL coprime to both moduli, so they never collide below ~7M ids.
MUL = 2_718_283

POOL = 512  # entries per (country[, gender]) pool; chosen by hash % POOL

LOCALES = {"LV": "lv_LV", "LT": "lt_LT", "EE": "et_EE", "DE": "de_DE", "FI": "fi_FI", "SE": "sv_SE"}
COUNTRY_NAMES = {"LV": "Latvia", "LT": "Lithuania", "EE": "Estonia", "DE": "Germany", "FI": "Finland",
                 "SE": "Sweden"}

_LV_FIRST = {
    0: ["Jānis", "Andris", "Pēteris", "Mārtiņš", "Kārlis", "Edgars", "Māris", "Juris", "Aivars", "Roberts",
        "Artūrs", "Uldis", "Gints", "Raimonds", "Ēriks", "Dāvis", "Oskars", "Rihards", "Krišjānis", "Gatis"],
    1: ["Anna", "Līga", "Ilze", "Inese", "Kristīne", "Laura", "Dace", "Sandra", "Ieva", "Zane", "Māra",
        "Agnese", "Elīna", "Linda", "Evija", "Sarmīte", "Baiba", "Marta", "Daiga", "Anete"],
}
_LV_LAST = [("Bērziņš", "Bērziņa"), ("Kalniņš", "Kalniņa"), ("Ozols", "Ozola"), ("Jansons", "Jansone"),
            ("Liepiņš", "Liepiņa"), ("Krūmiņš", "Krūmiņa"), ("Balodis", "Balode"), ("Eglītis", "Eglīte"),
            ("Zariņš", "Zariņa"), ("Pētersons", "Pētersone"), ("Vītols", "Vītola"), ("Kļaviņš", "Kļaviņa"),
            ("Ziemelis", "Ziemele"), ("Kārkliņš", "Kārkliņa"), ("Vanags", "Vanaga"), ("Lācis", "Lāce"),
            ("Šteins", "Šteina"), ("Siliņš", "Siliņa"), ("Ozoliņš", "Ozoliņa"), ("Grīnbergs", "Grīnberga")]
_STREETS = {
    "LV": ["Brīvības iela", "Elizabetes iela", "Tērbatas iela", "Krišjāņa Barona iela", "Dzirnavu iela",
           "Lāčplēša iela", "Maskavas iela", "Krišjāņa Valdemāra iela", "Ganību dambis", "Zemitāna iela",
           "Kalnciema iela", "Slokas iela", "Ulbrokas iela", "Purvciema iela", "Dzelzavas iela", "Lielā iela",
           "Rīgas iela", "Skolas iela", "Pils iela", "Jūras iela", "Stacijas iela", "Dārza iela",
           "Avotu iela", "Ķengaraga iela", "Gaujas iela", "Meža iela", "Liepu iela", "Zvejnieku iela"],
    "LT": ["Gedimino pr.", "Laisvės al.", "Vilniaus g.", "Pilies g.", "Savanorių pr.", "Konstitucijos pr.",
           "Žalgirio g.", "Taikos pr.", "Ukmergės g.", "Kalvarijų g.", "Liepų g.", "Mokyklos g."],
    "EE": ["Narva mnt", "Pärnu mnt", "Tartu mnt", "Viru tn", "Pikk tn", "Kalamaja tn", "Mustamäe tee",
           "Sõpruse pst", "Rüütli tn", "Jõe tn", "Kase tn", "Lille tn"],
}
_CITIES = {  # (city, weight, postal code generator)
    "LV": [("Rīga", 55, lambda r: f"LV-{r.randint(1001, 1084)}"), ("Daugavpils", 7, lambda r: f"LV-{r.randint(5401, 5422)}"),
           ("Liepāja", 6, lambda r: f"LV-{r.randint(3401, 3416)}"), ("Jelgava", 5, lambda r: f"LV-{r.randint(3001, 3008)}"),
           ("Jūrmala", 5, lambda r: f"LV-{r.randint(2008, 2016)}"), ("Ventspils", 3, lambda r: f"LV-{r.randint(3601, 3602)}"),
           ("Rēzekne", 3, lambda r: f"LV-{r.randint(4601, 4604)}"), ("Valmiera", 3, lambda r: f"LV-{r.randint(4201, 4202)}"),
           ("Ogre", 3, lambda r: f"LV-{r.randint(5001, 5003)}"), ("Jēkabpils", 2, lambda r: f"LV-{r.randint(5201, 5202)}"),
           ("Cēsis", 2, lambda r: f"LV-{r.randint(4101, 4101)}"), ("Sigulda", 2, lambda r: f"LV-{r.randint(2150, 2150)}"),
           ("Salaspils", 2, lambda r: f"LV-{r.randint(2121, 2121)}"), ("Tukums", 2, lambda r: f"LV-{r.randint(3101, 3101)}")],
    "LT": [("Vilnius", 50, lambda r: f"LT-{r.randint(1100, 14300):05d}"), ("Kaunas", 25, lambda r: f"LT-{r.randint(44100, 52500)}"),
           ("Klaipėda", 12, lambda r: f"LT-{r.randint(91100, 94300)}"), ("Šiauliai", 8, lambda r: f"LT-{r.randint(76100, 78400)}"),
           ("Panevėžys", 5, lambda r: f"LT-{r.randint(35100, 37400)}")],
    "EE": [("Tallinn", 60, lambda r: f"{r.randint(10111, 13999)}"), ("Tartu", 20, lambda r: f"{r.randint(50050, 51100)}"),
           ("Pärnu", 10, lambda r: f"{r.randint(80010, 80050)}"), ("Narva", 10, lambda r: f"{r.randint(20101, 21020)}")],
}
_DOMAINS = {
    "LV": ["mail.example.lv", "pasts.example.lv", "webmail.example.com", "example.eu"],
    "LT": ["pastas.example.lt", "mail.example.lt", "webmail.example.com", "example.eu"],
    "EE": ["post.example.ee", "mail.example.ee", "webmail.example.com", "example.eu"],
    "DE": ["mail.example.de", "post.example.de", "webmail.example.com", "example.eu"],
    "FI": ["posti.example.fi", "mail.example.fi", "webmail.example.com", "example.eu"],
    "SE": ["post.example.se", "mail.example.se", "webmail.example.com", "example.eu"],
}
ALT_DOMAINS = ["inbox.example.com", "work.example.eu", "cloudmail.example.org", "box.example.lv"]
PROSPECT_DOMAINS = ["example.net", "post.example.net", "mailbox.example.org"]
_COMPANY_SUFFIX = {"LV": "SIA", "LT": "UAB", "EE": "OÜ", "DE": "GmbH", "FI": "Oy", "SE": "AB"}


def ascii_fold(text: str) -> str:
    """ASCII-fold a name for e-mail addresses: diacritics stripped, lower case, letters only."""
    text = text.replace("ß", "ss").replace("Æ", "Ae").replace("æ", "ae").replace("Ø", "O").replace("ø", "o")
    text = text.replace("Ł", "L").replace("ł", "l").replace("Đ", "D").replace("đ", "d")
    folded = unicodedata.normalize("NFKD", text)
    folded = "".join(ch for ch in folded if not unicodedata.combining(ch))
    return re.sub(r"[^a-z]", "", folded.lower()) or "x"


# Bulk customers never get a story person's name, in any spelling: these folded (first, last) pairs are avoided.
STORY_NAME_PAIRS = sorted({tuple(ascii_fold(w) for w in s["full_name"].split())
                           for s in STORIES.values() if s["full_name"]})
STORY_NAME_SQL = "(" + ", ".join(f"('{a}', '{b}')" for a, b in STORY_NAME_PAIRS) + ")"


def people_pools(seed: int, rnd: random.Random) -> dict[str, Columns]:
    """The people pools (names, streets, cities, companies, e-mail domains, country names) for a seed.

    Deterministic for a seed and a Faker version. `rnd` is the run's one random stream: it is drawn from in a
    fixed order (per country: names, then places, then companies), so any reordering changes every company.
    """
    first: Columns = {"country": [], "gender": [], "idx": [], "name": [], "ascii": []}
    last: Columns = {"country": [], "gender": [], "idx": [], "name": [], "ascii": []}
    streets: Columns = {"country": [], "idx": [], "street": []}
    cities: Columns = {"country": [], "idx": [], "city": [], "postal_code": []}
    companies: Columns = {"country": [], "idx": [], "company": []}
    for n, (country, locale) in enumerate(LOCALES.items()):
        fk = Faker(locale)
        fk.seed_instance(seed * 101 + n)
        _add_names(country, fk, rnd, first, last)
        _add_places(country, fk, rnd, streets, cities)
        _add_companies(country, fk, rnd, companies)
    domains: Columns = {"country": [], "idx": [], "domain": []}
    for country, doms in _DOMAINS.items():
        for i, dom in enumerate(doms):
            domains["country"].append(country)
            domains["idx"].append(i)
            domains["domain"].append(dom)
    last["alt_idx"] = _alt_last_names(last)
    # One integer join key per pool row (country, gender, index): joining several pools on a shared `country`
    # column lets the optimizer join the pools with each other first (a cross product per country).
    codes = {c: n for n, c in enumerate(LOCALES)}
    for pool in (first, last, streets, cities, companies, domains):
        genders = pool.get("gender") or [0] * len(pool["idx"])
        pool["k"] = [codes[c] * 100_000 + g * 10_000 + i for c, g, i in zip(pool["country"], genders, pool["idx"])]
    return {
        "pool_first": first, "pool_last": last, "pool_street": streets, "pool_city": cities,
        "pool_company": companies, "pool_domain": domains,
        "pool_country": {"country": list(COUNTRY_NAMES), "country_name": list(COUNTRY_NAMES.values())},
    }


def _add_names(country: str, fk: Faker, rnd: random.Random, first: Columns, last: Columns) -> None:
    for gender in (0, 1):
        for i in range(POOL):
            if country == "LV" and rnd.random() < 0.5:
                # the common Latvian names, the first ones of each list most often
                fn = _LV_FIRST[gender][int(rnd.expovariate(1 / 7)) % len(_LV_FIRST[gender])]
                ln = _LV_LAST[int(rnd.expovariate(1 / 8)) % len(_LV_LAST)][gender]
            else:
                fn = fk.first_name_male() if gender == 0 else fk.first_name_female()
                ln = fk.last_name_male() if gender == 0 else fk.last_name_female()
            for pool, name in ((first, fn), (last, ln)):
                pool["country"].append(country)
                pool["gender"].append(gender)
                pool["idx"].append(i)
                pool["name"].append(name)
                pool["ascii"].append(ascii_fold(name))


def _add_places(country: str, fk: Faker, rnd: random.Random, streets: Columns, cities: Columns) -> None:
    for i in range(POOL):
        if country in _STREETS:
            street = rnd.choice(_STREETS[country])
        else:
            street = fk.street_name()
        streets["country"].append(country)
        streets["idx"].append(i)
        streets["street"].append(street)
        if country in _CITIES:
            city, _w, postal = rnd.choices(_CITIES[country], weights=[c[1] for c in _CITIES[country]])[0]
            code = postal(rnd)
        else:
            city = fk.city()
            code = fk.postcode()
            if country == "SE" and len(code) == 5:
                code = f"{code[:3]} {code[3:]}"
        cities["country"].append(country)
        cities["idx"].append(i)
        cities["city"].append(city)
        cities["postal_code"].append(code)


def _add_companies(country: str, fk: Faker, rnd: random.Random, companies: Columns) -> None:
    for i in range(64):
        name = fk.last_name()
        word = rnd.choice(["Tech", "Serviss", "Consulting", "Trade", "Group", "Partners", "Digital", "Nord"])
        companies["country"].append(country)
        companies["idx"].append(i)
        companies["company"].append(f"{_COMPANY_SUFFIX[country]} {name} {word}" if country in ("LV", "LT")
                                    else f"{name} {word} {_COMPANY_SUFFIX[country]}")


def _alt_last_names(last: Columns) -> list[int]:
    # A (first, last) pair that folds to a story name takes the nearest last name of the pool that is not a story
    # last name instead (the customers query switches to `alt_idx` for such pairs).
    story_lasts = {pair[1] for pair in STORY_NAME_PAIRS}
    alt_idx = []
    for row, (country, gender, idx) in enumerate(zip(last["country"], last["gender"], last["idx"])):
        alt = idx
        for step in range(POOL):
            j = (idx + step) % POOL
            if last["ascii"][row - idx + j] not in story_lasts:
                alt = j
                break
        alt_idx.append(alt)
    return alt_idx
