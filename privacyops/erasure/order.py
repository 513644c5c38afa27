"""The orders erasure writes in: datasets children first, sources holding children first (moved out of
erasure_plan, which re-exports them)."""

from __future__ import annotations

from typing import Iterable

from ..map import DataMap


def dataset_order(dm: DataMap) -> list[str]:
    """Datasets with the datasets that reference them first (children before parents): the order deletes respect
    references in. Cycles (shared references between peers) are broken where they are found."""
    state: dict[str, int] = {}
    out: list[str] = []
    referrers: dict[str, list[str]] = {n: [] for n in dm.datasets}
    for d in dm.datasets.values():
        for ref in d.references:
            if ref.to_dataset in referrers and ref.to_dataset != d.name:
                referrers[ref.to_dataset].append(d.name)

    def visit(name: str) -> None:
        state[name] = 1
        for child in referrers[name]:
            if not state.get(child):
                visit(child)
        state[name] = 2
        out.append(name)

    for name in dm.datasets:
        if not state.get(name):
            visit(name)
    # `out` lists a dataset after everything referencing it: that is children first.
    return out


def source_order(dm: DataMap, sources: Iterable[str]) -> list[str]:
    """Sources holding children before the sources of their parents (analytics files before the accounts they
    belong to), so that an interrupted run never leaves children whose parents are already gone; cycles broken
    by name."""
    wanted = sorted(set(sources))
    parents: dict[str, set[str]] = {s: set() for s in wanted}
    for d in dm.datasets.values():
        for ref in d.references:
            p = dm.datasets[ref.to_dataset].source
            if d.source in parents and p in parents and p != d.source:
                parents[d.source].add(p)
    out: list[str] = []
    while len(out) < len(wanted):
        # next: a source that is no parent of a source still to come (its children's sources went first)
        ready = [s for s in wanted if s not in out and not any(s in parents[c] for c in wanted if c not in out)]
        out.append(ready[0] if ready else next(s for s in wanted if s not in out))
    return out


__all__ = ["dataset_order", "source_order"]
