"""Tamper harness: random rewrites of an audit log by someone with file access, each of which must be detected.

A template workspace holds ~50 audit entries, its checkpoints in a file kept outside the workspace (as another
team would hold them) and a second workspace's ledger to swap in. Each attempt restores a scratch copy, applies
one random mutation (edit a field, delete entries, truncate, swap, forged appends with a recomputed chain or a
MAC under a wrong key, roll the head back, delete or replace the ledger, garbage bytes, edit or delete checkpoint
lines) and runs `audit.verify(ws, against=held)`; a quarter run as an auditor would (no private key, the public
key given; the MAC column, which only a key holder can check, is then not among the fields edited). An attempt
counts as detected when the result is not ok; an exception is a traceback (a bug).

    python -m benchmarks.reliability_tamper [N] [SEED]
"""

from __future__ import annotations

import base64
import json
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from anywhere: the tests' helpers live in the repository
    sys.path.insert(0, str(ROOT))

import duckdb  # noqa: E402

from privacyops.ledger import audit
from privacyops.ledger.checkpoints import canonical, entry_hash, entry_mac
from privacyops.map import parse_datamap
from privacyops.workspace import Workspace
from tests.support.mini import MINI_MAP

ENTRIES = 50
HELD = "../held/checkpoints.jsonl"
COLUMNS = ("recorded_at", "actor", "action", "case_id", "subject_hash", "details", "prev_hash", "hash", "mac")


def _workspace(root: Path) -> Workspace:
    root.mkdir(parents=True, exist_ok=True)
    text = MINI_MAP + f"audit: {{checkpoints: {{kind: file, path: {HELD}}}}}\n"
    (root / "privacyops.yaml").write_text(text)
    return Workspace(root=root, datamap=parse_datamap(text))


def build_template(base: Path, entries: int = ENTRIES) -> dict[str, Any]:
    """The workspace (ws/), its held checkpoints (held/), old heads, and another workspace (other/)."""
    (base / "held").mkdir(parents=True, exist_ok=True)
    ws = _workspace(base / "ws")
    heads = []
    for i in range(1, entries + 1):
        audit.record(ws, random.Random(i).choice(["lookup", "case.open", "export.create", "erasure.plan"]),
                     {"i": i, "rows": i * 3}, case_id=f"DSR-2026-{i % 7:04d}", subject=f"p{i}@x.example",
                     actor=f"analyst{i % 3}")
        if i in (5, 20, 35, entries - 1):
            heads.append((ws.root / audit.HEAD_FILE).read_text())
    (base / "other_held").mkdir(exist_ok=True)
    other = _workspace(base / "other" / "ws")
    (base / "other" / "held").mkdir(exist_ok=True)
    for i in range(1, entries + 1):
        audit.record(other, "lookup", {"i": i}, actor="mallory")
    return {"base": base, "heads": heads, "n": entries}


class Scratch:
    """A copy of the template restored before each attempt (files copied, extras removed)."""

    def __init__(self, tpl: dict[str, Any], root: Path):
        self.tpl, self.root = tpl, root
        self.ws_dir, self.held = root / "ws", root / "held" / "checkpoints.jsonl"
        shutil.copytree(tpl["base"] / "ws", self.ws_dir)
        shutil.copytree(tpl["base"] / "held", root / "held")
        self.auditor = False
        self.ws = Workspace(root=self.ws_dir, datamap=parse_datamap((self.ws_dir / "privacyops.yaml").read_text()))

    def restore(self) -> None:
        src = self.tpl["base"]
        for p in list(self.ws_dir.iterdir()):
            if p.name not in ("privacyops.yaml", "keys"):
                p.unlink() if p.is_file() else shutil.rmtree(p)
        shutil.rmtree(self.ws_dir / "keys", ignore_errors=True)
        shutil.copytree(src / "ws" / "keys", self.ws_dir / "keys")
        for name in ("ledger.duckdb", audit.HEAD_FILE):
            shutil.copyfile(src / "ws" / name, self.ws_dir / name)
        shutil.copyfile(src / "held" / "checkpoints.jsonl", self.held)

    @property
    def ledger(self) -> Path:
        return self.ws_dir / "ledger.duckdb"

    def sql(self, query: str, params: list | tuple = ()) -> list[tuple]:
        con = duckdb.connect(str(self.ledger))
        try:
            cur = con.execute(query, list(params))
            return cur.fetchall() if cur.description else []
        finally:
            con.close()


# -- mutations: each changes the log or its checkpoints in a way that matters -------------------------------------


def _other_value(rng: random.Random, old: Any, column: str) -> Any:
    choices = {"details": ['{"rows":0}', '{"i":1}', "{}"], "mac": ["0" * 64, None, "f" * 64],
               "prev_hash": ["0" * 64, "a" * 64], "hash": ["b" * 64, "0" * 64]}.get(column)
    value = rng.choice(choices) if choices else rng.choice(["mallory", "x", "", "2020-01-01T00:00:00+00:00", None])
    return value if value != old else (str(old) + "x")


def edit_field(s: Scratch, rng: random.Random) -> None:
    # The MAC column proves nothing to an auditor without the key (editing it alone changes no content they
    # rely on): it is edited in key-holder attempts only, where it must be caught.
    columns = tuple(c for c in COLUMNS if c != "mac" or not s.auditor) + ("seq",)
    seq, column = rng.randint(1, s.tpl["n"]), rng.choice(columns)
    if column == "seq":
        s.sql("UPDATE audit_log SET seq = ? WHERE seq = ?", [s.tpl["n"] + rng.randint(1, 5), seq])
        return
    (old,) = s.sql(f'SELECT "{column}" FROM audit_log WHERE seq = ?', [seq])[0]
    new = _other_value(rng, old, column)
    if column in ("recorded_at", "actor", "action", "details", "prev_hash", "hash") and new is None:
        new = "forged"
    s.sql(f'UPDATE audit_log SET "{column}" = ? WHERE seq = ?', [new, seq])


def delete_entry(s: Scratch, rng: random.Random) -> None:
    s.sql("DELETE FROM audit_log WHERE seq = ?", [rng.randint(1, s.tpl["n"])])


def delete_range(s: Scratch, rng: random.Random) -> None:
    a = rng.randint(1, s.tpl["n"])
    s.sql("DELETE FROM audit_log WHERE seq BETWEEN ? AND ?", [a, rng.randint(a, s.tpl["n"])])


def truncate_tail(s: Scratch, rng: random.Random) -> None:
    s.sql("DELETE FROM audit_log WHERE seq > ?", [rng.randint(0, s.tpl["n"] - 1)])


def swap_entries(s: Scratch, rng: random.Random) -> None:
    a, b = rng.sample(range(1, s.tpl["n"] + 1), 2)
    rows = {r[0]: r[1:] for r in s.sql(f"SELECT seq, {', '.join(COLUMNS)} FROM audit_log WHERE seq IN (?, ?)",
                                        [a, b])}
    sets = ", ".join(f'"{c}" = ?' for c in COLUMNS)
    s.sql(f"UPDATE audit_log SET {sets} WHERE seq = ?", [*rows[b], a])
    s.sql(f"UPDATE audit_log SET {sets} WHERE seq = ?", [*rows[a], b])


def _forge(s: Scratch, rng: random.Random, mac: Callable[[int, str], str | None], count: int = 1) -> None:
    """Append `count` entries with a correctly recomputed public chain and the MAC `mac` gives."""
    seq, prev = s.sql("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")[0]
    for _ in range(count):
        seq += 1
        at, details = "2026-11-30T12:00:00.000000+00:00", canonical({"rows": rng.randint(0, 9)})
        h = entry_hash(seq, at, "mallory", "erasure.cancel", None, None, details, prev)
        s.sql("INSERT INTO audit_log (seq, recorded_at, actor, action, case_id, subject_hash, details, prev_hash, "
              "hash, mac) VALUES (?, ?, ?, ?, NULL, NULL, ?, ?, ?, ?)",
              [seq, at, "mallory", "erasure.cancel", details, prev, h, mac(seq, h)])
        prev = h


def forged_append_chain(s: Scratch, rng: random.Random) -> None:
    """A forger who can recompute SHA-256 but has no key: no MAC, a copied MAC or random hex."""
    other = s.sql("SELECT mac FROM audit_log WHERE seq = 1")[0][0]
    how = rng.choice([lambda q, h: None, lambda q, h: other, lambda q, h: os.urandom(32).hex()])
    _forge(s, rng, how, rng.randint(1, 3))


def forged_append_wrong_key(s: Scratch, rng: random.Random) -> None:
    key = os.urandom(32)
    _forge(s, rng, lambda q, h: entry_mac(key, q, h), rng.randint(1, 3))


def forged_append_and_checkpoint(s: Scratch, rng: random.Random) -> None:
    """Forged entry plus a forged checkpoint line (signed with another Ed25519 key) in the held file."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = os.urandom(32)
    _forge(s, rng, lambda q, h: entry_mac(key, q, h))
    seq, h = s.sql("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")[0]
    last = json.loads(s.held.read_text().splitlines()[-1])
    body = {"number": last["number"] + 1, "seq": seq, "hash": h, "entries": seq, "at": last["at"],
            "key_id": last["key_id"]}
    sig = Ed25519PrivateKey.generate().sign(canonical(body).encode())
    with open(s.held, "a") as fh:
        fh.write(canonical({**body, "signature": base64.b64encode(sig).decode()}) + "\n")


def rollback_head(s: Scratch, rng: random.Random) -> None:
    """An older valid head; half the time with the ledger cut back to it (a consistent-looking rollback)."""
    old = rng.choice(s.tpl["heads"])
    (s.ws_dir / audit.HEAD_FILE).write_text(old)
    if rng.random() < 0.5:
        s.sql("DELETE FROM audit_log WHERE seq > ?", [json.loads(old)["seq"]])


def delete_ledger_and_head(s: Scratch, rng: random.Random) -> None:
    s.ledger.unlink()
    (s.ws_dir / audit.HEAD_FILE).unlink()
    if rng.random() < 0.5:  # and start a fresh log in its place
        audit.record(s.ws, "case.open", {"fresh": True})


def replace_with_other(s: Scratch, rng: random.Random) -> None:
    other = s.tpl["base"] / "other" / "ws"
    shutil.copyfile(other / "ledger.duckdb", s.ledger)
    shutil.copyfile(other / audit.HEAD_FILE, s.ws_dir / audit.HEAD_FILE)
    if rng.random() < 0.5:  # its keys too
        shutil.rmtree(s.ws_dir / "keys")
        shutil.copytree(other / "keys", s.ws_dir / "keys")


def garbage_ledger(s: Scratch, rng: random.Random) -> None:
    data = s.ledger.read_bytes()
    how = rng.choice(["random", "truncate", "header", "zero"])
    if how == "random":
        s.ledger.write_bytes(os.urandom(rng.randint(1, len(data))))
    elif how == "truncate":
        s.ledger.write_bytes(data[:rng.randint(0, len(data) // 8)])
    elif how == "header":
        at = rng.randint(0, 8192)
        s.ledger.write_bytes(data[:at] + os.urandom(64) + data[at + 64:])
    else:
        s.ledger.write_bytes(b"")


def garbage_head(s: Scratch, rng: random.Random) -> None:
    head = s.ws_dir / audit.HEAD_FILE
    text = head.read_bytes()
    head.write_bytes(rng.choice([os.urandom(rng.randint(1, 200)), text[:rng.randint(0, len(text) - 1)], b"",
                                 b"null", b"[]", b'{"seq": "x", "hash": 1}']))


def edit_checkpoint(s: Scratch, rng: random.Random) -> None:
    lines = s.held.read_text().splitlines()
    i = rng.randrange(len(lines))
    cp = json.loads(lines[i])
    field = rng.choice(["seq", "hash", "number", "entries", "at", "key_id", "signature"])
    cp[field] = {"seq": cp["seq"] - 1, "number": cp["number"] + 1, "entries": cp["entries"] + 1,
                 "hash": "c" * 64, "at": "2020-01-01T00:00:00+00:00", "key_id": "0" * 16,
                 "signature": base64.b64encode(os.urandom(64)).decode()}[field]
    lines[i] = canonical(cp)
    s.held.write_text("\n".join(lines) + "\n")


def delete_checkpoints(s: Scratch, rng: random.Random) -> None:
    lines = s.held.read_text().splitlines()
    how = rng.choice(["one", "range", "tail", "all", "garbage"])
    if how == "one":
        del lines[rng.randrange(len(lines))]
    elif how == "range":
        a = rng.randrange(len(lines))
        del lines[a:rng.randint(a + 1, len(lines))]
    elif how == "tail":
        lines = lines[:rng.randrange(len(lines))]
    elif how == "all":
        s.held.unlink()
        return
    else:
        lines.insert(rng.randrange(len(lines) + 1), os.urandom(20).hex())
    s.held.write_text("".join(x + "\n" for x in lines))


KINDS: dict[str, Callable[[Scratch, random.Random], None]] = {
    f.__name__: f for f in (edit_field, delete_entry, delete_range, truncate_tail, swap_entries,
                            forged_append_chain, forged_append_wrong_key, forged_append_and_checkpoint,
                            rollback_head, delete_ledger_and_head, replace_with_other, garbage_ledger, garbage_head,
                            edit_checkpoint, delete_checkpoints)
}


def attempt(s: Scratch, kind: str, rng: random.Random, auditor: bool) -> tuple[bool, str]:
    """Restore, mutate, verify: (detected, what verify said). Exceptions from verify propagate (tracebacks)."""
    s.restore()
    s.auditor = auditor
    KINDS[kind](s, rng)
    public = None
    if auditor:  # an auditor's check: no private key here, the public key held elsewhere
        public = s.root / "signing.pub"
        shutil.copyfile(s.tpl["base"] / "ws" / "keys" / "signing.pub", public)
        (s.ws_dir / "keys" / "signing.key").unlink(missing_ok=True)
    result = audit.verify(s.ws, against=s.held, public_key=public)
    return (not result.ok), str(result)


def run(n: int, seed: int = 0, kinds: list[str] | None = None) -> dict[str, Any]:
    """`n` random tamper attempts over every kind (round robin); returns the counts and any undetected example."""
    rng = random.Random(seed)
    kinds = kinds or list(KINDS)
    t0 = time.perf_counter()
    # On tmpfs when there is one: the attempts rewrite files many times and fsync costs dominate on a shared disk.
    shm = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
    with tempfile.TemporaryDirectory(prefix="tamper-", dir=shm) as tmp:
        tpl = build_template(Path(tmp) / "template")
        s = Scratch(tpl, Path(tmp) / "scratch")
        s.restore()
        clean = audit.verify(s.ws, against=s.held)
        if not clean.ok:
            raise AssertionError(f"the untouched template does not verify: {clean}")
        by_kind = {k: {"attempts": 0, "detected": 0, "tracebacks": 0} for k in kinds}
        undetected, tracebacks = [], []
        for i in range(n):
            kind = kinds[i % len(kinds)]
            auditor = rng.random() < 0.25
            by_kind[kind]["attempts"] += 1
            try:
                detected, said = attempt(s, kind, rng, auditor)
            except Exception as exc:  # noqa: BLE001 - a traceback is what this harness counts
                by_kind[kind]["tracebacks"] += 1
                tracebacks.append(f"{kind}: {type(exc).__name__}: {exc}")
                continue
            if detected:
                by_kind[kind]["detected"] += 1
            else:
                undetected.append(f"{kind} (auditor={auditor}): {said}")
    detected = sum(v["detected"] for v in by_kind.values())
    return {"attempts": n, "detected": detected, "tracebacks": sum(v["tracebacks"] for v in by_kind.values()),
            "rate": detected / n if n else 1.0, "by_kind": by_kind, "undetected": undetected[:10],
            "traceback_examples": tracebacks[:10], "seconds": round(time.perf_counter() - t0, 1)}


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    seed = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    out = run(n, seed)
    print(f"tamper attempts: {out['attempts']}, detected: {out['detected']} ({100 * out['rate']:.1f} %), "
          f"tracebacks: {out['tracebacks']}  ({out['seconds']} s)")
    for kind, v in out["by_kind"].items():
        print(f"  {kind:30} {v['detected']:>5}/{v['attempts']:<5} tracebacks {v['tracebacks']}")
    for line in out["undetected"] + out["traceback_examples"]:
        print("  !", line)
