"""``python -m privacyops.demo WORKSPACE``: generate the demo company without the CLI (a convenience entry point)."""

from __future__ import annotations

import argparse

from .demo_build import generate_demo


def main(argv: list[str] | None = None) -> None:  # pragma: no cover - convenience entry point
    """Parse the arguments, generate the company and print a one-line summary."""
    parser = argparse.ArgumentParser(description="Generate the Baltic Software Factory demo company.")
    parser.add_argument("workspace")
    parser.add_argument("--subjects", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    summary = generate_demo(args.workspace, args.subjects, args.seed, progress=not args.quiet)
    print(f"{summary.workspace}: {summary.subjects:,} subjects, {summary.total_rows:,} rows "
          f"in {summary.seconds:.1f} s")


if __name__ == "__main__":  # pragma: no cover
    main()
