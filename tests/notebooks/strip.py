"""Notebooks are committed without outputs (what nbstripout does, in a few lines with nbformat): a run's figures are
the day's and the workspace's, not the notebook's, and outputs in git leak data and make every diff noisy.

    python -m tests.notebooks.strip            # strip notebooks/*.ipynb in place
    python -m tests.notebooks.strip --check    # list what would be stripped; exit 1 if anything would

tests/notebooks/test_stored_notebooks.py fails while a committed notebook holds outputs.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
CELL_METADATA = ("execution", "ExecuteTime", "collapsed", "scrolled")  # written by a run or a UI, not by the author
NOTEBOOK_METADATA = ("widgets", "signature")


def leftovers(nb: nbformat.NotebookNode) -> list[str]:
    """What a stored notebook should not hold: outputs, execution counts and run-time metadata, one line each."""
    found = [f"metadata.{key}" for key in NOTEBOOK_METADATA if key in nb.metadata]
    for i, cell in enumerate(nb.cells):
        found += [f"cell {i}: metadata.{key}" for key in CELL_METADATA if key in cell.metadata]
        if cell.cell_type == "code":
            if cell.get("outputs"):
                found.append(f"cell {i}: {len(cell.outputs)} output(s)")
            if cell.get("execution_count") is not None:
                found.append(f"cell {i}: execution_count {cell.execution_count}")
    return found


def strip(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """`nb` without outputs, execution counts and run-time metadata (changed in place and returned)."""
    for key in NOTEBOOK_METADATA:
        nb.metadata.pop(key, None)
    for cell in nb.cells:
        for key in CELL_METADATA:
            cell.metadata.pop(key, None)
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    return nb


def main(argv: list[str]) -> int:
    check = "--check" in argv
    dirty = 0
    for path in sorted(NOTEBOOKS.glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        found = leftovers(nb)
        if found:
            dirty += 1
            print(f"{path.name}: {', '.join(found)}")
            if not check:
                nbformat.write(strip(nb), path)
    return 1 if check and dirty else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
