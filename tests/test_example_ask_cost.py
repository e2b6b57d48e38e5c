"""benchmarks/example_ask_cost.py: every strategy of an example is asked, timed and judged
against one trial actually trained (no timing is asserted: that is the benchmark's business)."""

from __future__ import annotations

import json

from benchmarks import example_ask_cost


def test_quickstart_has_a_row_per_strategy_with_its_asks_and_a_trained_trial(tmp_path, capsys):
    path = tmp_path / "x.json"
    code = example_ask_cost.main(["--examples", "quickstart", "--trials", "3",
                                  "--max-epochs", "1", "--json", str(path)])
    assert code == 0
    payload = json.loads(path.read_text())
    assert payload["share"] == example_ask_cost.AskCost(workers=1).share
    rows = {row["strategy"]: row for row in payload["rows"]}
    assert sorted(rows) == sorted(["auto", "grid", "random", "optuna", "evolutionary"])
    assert len(payload["rows"]) == len(rows)
    assert payload["notes"] == []
    for name, row in rows.items():
        assert row["example"] == "quickstart", name
        assert row["asks"] == 3, name
        assert row["trials_at_once"] >= 1 and row["epochs"] == 1, name  # (capped)
        assert 0 < row["median_ask_ms"] <= row["max_ask_ms"], name
        assert row["trial_s"] > 0 and row["ratio"] >= 0, name
        assert isinstance(row["quiet"], bool) and isinstance(row["askcost_warned"], bool), name
    table = capsys.readouterr().out
    assert table.count("| quickstart |") == 5
