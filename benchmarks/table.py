"""The table `make bench` prints."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

NOT_BUILT = "n/a (not built yet)"


@dataclass(frozen=True)
class Row:
    """One line of the table."""

    metric: str
    baseline: str
    emulator: str
    ratio: float | None  # emulator / baseline
    target: str
    met: bool | None  # None: no target, or nothing measured


def print_table(rows: Sequence[Row]) -> None:
    """The rows in aligned columns, with `ok` or `MISS` against each target."""
    header = ("metric", "baseline", "emulator", "ratio", "target", "")
    lines = [header] + [
        (
            r.metric, r.baseline, r.emulator, "" if r.ratio is None else f"{r.ratio:.2f}x", r.target,
            "" if r.met is None else ("ok" if r.met else "MISS"),
        )
        for r in rows
    ]
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    for line in lines:
        print("  ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip())
