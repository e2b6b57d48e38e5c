"""Why grid search leads on LCBench: the search-efficiency comparison again, with the grid's
points moved off the ends of every range.

sweepforge's grid takes ``L`` evenly spaced values from ``low`` to ``high`` (both ends included),
so its first points are corners of the space. This script runs ``search_efficiency.py`` twice on
the same tasks and seeds: with that grid, then with a grid of the midpoints of ``L`` equal cells
(geometric cells for log ranges; ints take the values nearest the midpoints). If grid's lead
comes from optima on the faces of the box, it goes away with the interior grid.

    python benchmarks/grid_interior.py                # 8 tasks x 3 seeds x 200 (a few minutes)
    python benchmarks/grid_interior.py --tasks 34 --seeds 10
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script: the repo root

from benchmarks import search_efficiency
from sweepforge.spaces import _grid
from sweepforge.spaces._params import Float, Int

STRATEGIES = "grid,random,optuna_tpe,evolutionary"


def _cell_midpoints(low: float, high: float, levels: int, log: bool) -> list[float]:
    if log:
        a, b = math.log(low), math.log(high)
        return [math.exp(a + (i + 0.5) * (b - a) / levels) for i in range(levels)]
    return [low + (i + 0.5) * (high - low) / levels for i in range(levels)]


def interior_float_levels(param: Float, levels: int) -> list[float]:
    """The midpoints of ``levels`` equal cells of the range: never its ends."""
    if param.low == param.high:
        return [param.low]
    return sorted(set(_cell_midpoints(param.low, param.high, levels, param.log)))


def interior_int_levels(param: Int, levels: int) -> list[int]:
    """The int values nearest the cell midpoints (all values when there are few)."""
    values = param.values()
    if len(values) <= levels:
        return values
    targets = _cell_midpoints(param.low, param.high, levels, param.log)
    return sorted({min(values, key=lambda v, t=t: abs(v - t)) for t in targets})


@contextmanager
def interior_grid() -> Iterator[None]:
    """While inside, every grid in this process uses the interior levels."""
    saved = _grid.float_levels, _grid.int_levels
    _grid.float_levels, _grid.int_levels = interior_float_levels, interior_int_levels
    try:
        yield
    finally:
        _grid.float_levels, _grid.int_levels = saved


def main(argv: list[str] | None = None) -> dict[str, dict[str, np.ndarray]]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=8)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--budget", type=int, default=200)
    args = parser.parse_args(argv)
    common = ["--tasks", str(args.tasks), "--seeds", str(args.seeds), "--budget",
              str(args.budget), "--strategies", STRATEGIES, "--jobs", "1"]
    plots = search_efficiency.RESULTS
    results = {}
    print("## grid with the range ends (sweepforge's grid)")
    results["ends"] = search_efficiency.main([*common, "--plot", str(plots / "grid_ends.png")])
    print("\n## grid of cell midpoints")
    with interior_grid():
        results["interior"] = search_efficiency.main(
            [*common, "--plot", str(plots / "grid_interior.png")])
    return results


if __name__ == "__main__":
    main()
