"""Reading a store's own CREATE TABLE / CREATE TRIGGER text, for what its catalog functions leave out.

SQLite's `PRAGMA foreign_key_list` does not say whether a key is DEFERRABLE, `PRAGMA table_xinfo` gives no CHECK
constraint and no generation expression, and DuckDB's catalog shows a generated column's expression as its default.
The statement the store keeps (`sqlite_master.sql`, `duckdb_tables().sql`) does say. This is a tokenizer and a
reader of the table-definition grammar's outline, not an SQL parser: it splits the body into column definitions and
table constraints at top-level commas and reads the few clauses it needs, so expressions are kept as written.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_TOKEN = re.compile(r"""
    (?P<space>\s+|--[^\n]*|/\*.*?\*/)
  | (?P<string>'(?:[^']|'')*')
  | (?P<quoted>"(?:[^"]|"")*"|`(?:[^`]|``)*`|\[[^\]]*\])
  | (?P<word>[A-Za-z_\u0080-\uffff][A-Za-z0-9_$\u0080-\uffff]*|[0-9][0-9.eE+-]*)
  | (?P<punct>.)
""", re.VERBOSE | re.DOTALL)
_TABLE_CONSTRAINTS = ("CONSTRAINT", "PRIMARY", "UNIQUE", "CHECK", "FOREIGN")
_ACTION_WORDS = {("SET", "NULL"): "set null", ("SET", "DEFAULT"): "set default", ("CASCADE",): "cascade",
                 ("RESTRICT",): "restrict", ("NO", "ACTION"): "no action"}


@dataclass(frozen=True)
class Token:
    kind: str  # quoted | word | string | punct
    text: str
    start: int
    end: int

    @property
    def upper(self) -> str:
        return self.text.upper() if self.kind == "word" else ""

    @property
    def name(self) -> str:
        """The identifier it spells (quotes removed)."""
        if self.kind == "quoted":
            inner = self.text[1:-1]
            q = self.text[0]
            return inner if q == "[" else inner.replace(q * 2, q)
        return self.text


def tokens(sql: str) -> list[Token]:
    """The statement's tokens; spaces and comments dropped."""
    return [Token(m.lastgroup, m.group(), m.start(), m.end()) for m in _TOKEN.finditer(sql)
            if m.lastgroup != "space"]


@dataclass(frozen=True)
class ForeignKeyClause:
    """A REFERENCES clause: the referencing columns, the referenced table and columns, actions, deferral."""

    columns: tuple[str, ...]
    ref_table: str
    ref_columns: tuple[str, ...]
    on_delete: str = "no action"
    on_update: str = "no action"
    deferrable: bool = False
    initially_deferred: bool = False


@dataclass
class ColumnDef:
    name: str
    checks: list[str] = field(default_factory=list)
    generated: str | None = None  # "stored" | "virtual"
    expression: str | None = None


@dataclass
class TableDef:
    columns: dict[str, ColumnDef] = field(default_factory=dict)  # by lower-case name
    foreign_keys: list[ForeignKeyClause] = field(default_factory=list)
    checks: list[tuple[str, set[str]]] = field(default_factory=list)  # (CHECK (...), lower-case words in it)
    without_rowid: bool = False


def _close(toks: list[Token], i: int) -> int:
    """The index of the parenthesis closing the one at `i`."""
    depth = 0
    for j in range(i, len(toks)):
        if toks[j].text == "(" and toks[j].kind == "punct":
            depth += 1
        elif toks[j].text == ")" and toks[j].kind == "punct":
            depth -= 1
            if depth == 0:
                return j
    return len(toks) - 1


def _names_in(toks: list[Token], i: int) -> tuple[tuple[str, ...], int]:
    """The names of a parenthesised list starting at `i` (words and quoted names only), and the index after it."""
    end = _close(toks, i)
    return tuple(t.name for t in toks[i + 1:end] if t.kind in ("word", "quoted")), end + 1


def _references(sql: str, toks: list[Token], i: int, columns: tuple[str, ...]) -> ForeignKeyClause:
    """The REFERENCES clause at `i` (the REFERENCES token)."""
    i += 1
    ref = toks[i].name if i < len(toks) else ""
    i += 1
    while i + 1 < len(toks) and toks[i].text == ".":  # schema.table
        ref, i = toks[i + 1].name, i + 2
    ref_cols: tuple[str, ...] = ()
    if i < len(toks) and toks[i].text == "(":
        ref_cols, i = _names_in(toks, i)
    actions = {"DELETE": "no action", "UPDATE": "no action"}
    deferrable = deferred = False
    while i < len(toks):
        w = toks[i].upper
        if w == "ON" and i + 2 < len(toks):
            for words, action in _ACTION_WORDS.items():
                if tuple(t.upper for t in toks[i + 2:i + 2 + len(words)]) == words:
                    actions[toks[i + 1].upper] = action
                    i += 2 + len(words)
                    break
            else:
                i += 2
        elif w == "MATCH" or (w == "NOT" and i + 1 < len(toks) and toks[i + 1].upper == "DEFERRABLE"):
            i += 2
        elif w == "DEFERRABLE":
            deferrable = True
            i += 1
        elif w == "INITIALLY" and i + 1 < len(toks):
            deferred = toks[i + 1].upper == "DEFERRED"
            i += 2
        else:
            break
    return ForeignKeyClause(columns, ref, ref_cols, actions["DELETE"], actions["UPDATE"], deferrable,
                            deferrable and deferred)


def _split(toks: list[Token]) -> list[list[Token]]:
    """The pieces of a table body (tokens between its parentheses), split at top-level commas."""
    pieces: list[list[Token]] = [[]]
    depth = 0
    for t in toks:
        if t.kind == "punct" and t.text == "(":
            depth += 1
        elif t.kind == "punct" and t.text == ")":
            depth -= 1
        if depth == 0 and t.kind == "punct" and t.text == ",":
            pieces.append([])
        else:
            pieces[-1].append(t)
    return [p for p in pieces if p]


def _column(sql: str, piece: list[Token], table: TableDef) -> None:
    col = ColumnDef(piece[0].name)
    i = 1
    while i < len(piece):
        w = piece[i].upper
        if w == "CHECK" and i + 1 < len(piece) and piece[i + 1].text == "(":
            end = _close(piece, i + 1)
            col.checks.append(sql[piece[i].start:piece[end].end])
            i = end + 1
        elif w == "AS" and i + 1 < len(piece) and piece[i + 1].text == "(":
            end = _close(piece, i + 1)
            col.expression = sql[piece[i + 1].end:piece[end].start].strip()
            after = piece[end + 1].upper if end + 1 < len(piece) else ""
            col.generated = "stored" if after == "STORED" else "virtual"
            i = end + 1
        elif w == "REFERENCES":
            table.foreign_keys.append(_references(sql, piece, i, (col.name,)))
            i += 1
        else:
            i += 1
    table.columns[col.name.lower()] = col


def _table_constraint(sql: str, piece: list[Token], table: TableDef) -> None:
    i = 2 if piece[0].upper == "CONSTRAINT" else 0
    if i >= len(piece):
        return
    w = piece[i].upper
    if w == "CHECK" and i + 1 < len(piece) and piece[i + 1].text == "(":
        end = _close(piece, i + 1)
        words = {t.name.lower() for t in piece[i + 2:end] if t.kind in ("word", "quoted")}
        table.checks.append((sql[piece[i].start:piece[end].end], words))
    elif w == "FOREIGN" and i + 2 < len(piece) and piece[i + 2].text == "(":
        columns, j = _names_in(piece, i + 2)
        if j < len(piece) and piece[j].upper == "REFERENCES":
            table.foreign_keys.append(_references(sql, piece, j, columns))


def create_table(sql: str) -> TableDef:
    """The outline of a CREATE TABLE statement: columns (checks, generation), foreign keys, table checks."""
    toks = tokens(sql or "")
    table = TableDef()
    start = next((i for i, t in enumerate(toks) if t.text == "("), None)
    if start is None:  # CREATE TABLE ... AS SELECT: nothing declared
        return table
    end = _close(toks, start)
    for piece in _split(toks[start + 1:end]):
        if piece[0].upper in _TABLE_CONSTRAINTS:
            _table_constraint(sql, piece, table)
        else:
            _column(sql, piece, table)
    table.without_rowid = any(toks[k].upper == "WITHOUT" and toks[k + 1].upper == "ROWID"
                              for k in range(end + 1, len(toks) - 1))
    return table


def trigger_header(sql: str) -> tuple[str, tuple[str, ...]]:
    """(timing, events) of a CREATE TRIGGER statement (SQLite: BEFORE when none is written)."""
    toks = tokens(sql or "")
    i = next((k for k, t in enumerate(toks) if t.upper == "TRIGGER"), len(toks)) + 1
    if [t.upper for t in toks[i:i + 3]] == ["IF", "NOT", "EXISTS"]:
        i += 3
    i += 1  # the trigger's name
    while i + 1 < len(toks) and toks[i].text == ".":
        i += 2
    timing = "BEFORE"
    if i < len(toks) and toks[i].upper in ("BEFORE", "AFTER", "INSTEAD"):
        timing = "INSTEAD OF" if toks[i].upper == "INSTEAD" else toks[i].upper
        i += 2 if toks[i].upper == "INSTEAD" else 1
    event = toks[i].upper if i < len(toks) else ""
    return timing, (event,) if event in ("INSERT", "UPDATE", "DELETE") else ()
