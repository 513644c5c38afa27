"""The benchmark's table (benchmarks/bench.py) as the README quotes it: one Markdown row per measured row."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import bench  # noqa: E402


def test_the_markdown_table_says_what_the_printed_table_says(capsys):
    table = bench.Table()
    table.add("lookup (1M)", "p50 <= 20 ms", "p50 14 ms", 1.456, 575.6, True)
    table.add("batch (100k)", "plan >= 500/s", "plan 190/s", 1.5, 1440.2, False)
    table.add("build", "-", "7 s", None, None, None)
    capsys.readouterr()
    lines = table.markdown().splitlines()
    assert lines[:2] == ["| operation | target | measured | load | peak RSS | met |", "|---|---|---|---|---|---|"]
    assert lines[2:] == ["| lookup (1M) | p50 <= 20 ms | p50 14 ms | 1.46 | 576 MB | yes |",
                         "| batch (100k) | plan >= 500/s | plan 190/s | 1.50 | 1,440 MB | **no** |",
                         "| build | – | 7 s | – | – | – |"]


def test_the_speed_reference_is_measured_and_said():
    ref = bench.reference()
    assert set(ref) == {"python_loop_ms", "duckdb_scan_ms"} and all(v > 0 for v in ref.values())
    text = bench.reference_text(ref)
    assert f"{ref['python_loop_ms']} ms" in text and f"{ref['duckdb_scan_ms']} ms" in text
