"""The scale benchmark's object census counts live objects by type and ranks what grew."""

import importlib.util
import sys
from pathlib import Path

SCRIPT = Path(__file__).parents[1] / "benchmarks" / "scale.py"


def load_scale():
    spec = importlib.util.spec_from_file_location("scale_benchmark", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


class Kept:
    """Stands for a per-trial record that a campaign keeps."""


def test_census_sees_objects_kept_between_two_counts():
    scale = load_scale()
    name = f"{__name__}.Kept"
    before = scale.census()
    kept = [Kept() for _ in range(500)]
    after = scale.census()
    assert after[name][0] - before.get(name, (0, 0))[0] == 500
    growth = scale.census_growth(before, after, trials=100)
    rows = {row[0]: row for row in growth}
    assert rows[name][1] == 5.0  # objects per trial
    assert rows[name][2] > 0  # bytes per trial
    assert growth == sorted(growth, key=lambda row: row[2], reverse=True)
    del kept
