"""Encryption at rest, measured: does anything privacyops writes hold a personal value in clear?

    python benchmarks/reliability_sealing.py

Builds the mini workspace in a temporary folder (its newsletter list keyed by the e-mail address, so row keys are
personal data too), reads every personal value its sources hold by SQL, then runs a request life through the public
API (tests/support/at_rest.py): a lookup, an access export, a legal hold, an erasure with suppression (planned,
approved, executed, certified), a batch plan whose lines name people, the reports. Then searches every byte of
every file privacyops wrote and every value of every ledger column (through SQL) for those values.

Prints "files and ledger values scanned: N, personal values found in clear: 0" and exits 1 when anything is found.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from anywhere: the tests' helpers live in the repository
    sys.path.insert(0, str(ROOT))


def run() -> dict:
    """Run the scenario once in a temporary workspace; the figures as a dict (`found_in_clear` must be 0)."""
    from privacyops.ledger import open_ledger
    from privacyops.workspace import open_workspace, sealing
    from tests.support import at_rest
    from tests.support.mini import build_mini

    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="privacyops-at-rest-") as tmp:
        root = build_mini(Path(tmp) / "mini")
        (root / "privacyops.yaml").write_text(at_rest.at_rest_map())
        ws = open_workspace(root)
        needles = at_rest.personal_values(root)
        sc = at_rest.run_scenario(ws, Path(tmp))
        result = at_rest.scan(root, needles)
        with open_ledger(ws) as con:
            bodies = [b for (b,) in con.execute("SELECT body FROM erasure_plans").fetchall()]
        files = [str(p.relative_to(root)) for p in at_rest.written_files(root)]
    return {**_speed(), "files": result.files, "ledger_values": result.values, "scanned": result.scanned,
            "personal_values_searched": len(needles), "found_in_clear": len(result.hits), "hits": result.hits,
            "plans": len(sc.plans), "plan_bodies_sealed": sum(sealing.is_sealed(b) for b in bodies),
            "plan_bodies": len(bodies), "file_list": files, "seconds": round(time.perf_counter() - t0, 1)}


def _speed(n: int = 20000) -> dict:
    """Microseconds to seal and to open one schedule row key (deterministic) and one plan-sized body (AES-GCM)."""
    import secrets

    from privacyops.workspace import sealing

    secret = secrets.token_bytes(32)
    keys = [f"[{i}]" for i in range(n)]
    t0 = time.perf_counter()
    tokens = [sealing.seal_deterministic(secret, sealing.ROW_KEY, k) for k in keys]
    t1 = time.perf_counter()
    assert [sealing.open_text(secret, sealing.ROW_KEY, t) for t in tokens] == keys
    t2 = time.perf_counter()
    return {"row_key_seal_us": round((t1 - t0) / n * 1e6, 1), "row_key_open_us": round((t2 - t1) / n * 1e6, 1)}


def main() -> int:
    r = run()
    print(f"files and ledger values scanned: {r['scanned']}, personal values found in clear: {r['found_in_clear']}")
    print(f"  {r['files']} files, {r['ledger_values']} ledger values, {r['personal_values_searched']} personal values "
          f"searched; plan bodies sealed: {r['plan_bodies_sealed']}/{r['plan_bodies']}; {r['seconds']} s")
    print(f"  a schedule row key: {r['row_key_seal_us']} µs to seal, {r['row_key_open_us']} µs to open")
    for h in r["hits"]:
        print(f"  FOUND {h}")
    return 1 if r["found_in_clear"] else 0


if __name__ == "__main__":
    sys.exit(main())
