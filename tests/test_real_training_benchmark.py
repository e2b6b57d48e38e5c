"""The real-training benchmark (``auto`` against plain Optuna TPE) runs end to end in its quick
mode, pairs the contestants on training seeds and scores the best trial as a campaign does."""

from __future__ import annotations

import json
import math

import pytest

from benchmarks import real_training as bench


def test_quick_mode_trains_both_contestants_on_both_spaces_and_saves_every_trial(tmp_path):
    path = tmp_path / "real.json"
    payload = bench.main(["--quick", "--json", str(path)])
    saved = json.loads(path.read_text())
    assert saved["runs"].keys() == payload["runs"].keys() == {
        bench.run_key(name, 0, contestant) for name in ("mlp", "cnn")
        for contestant in bench.CONTESTANTS}
    assert saved["protocol"]["epochs"] == {"mlp": 1, "cnn": 1}
    for run in saved["runs"].values():
        assert len(run["trials"]) == 4
        # trial i trains with the same seed under either contestant: paired on noise
        assert [t["train_seed"] for t in run["trials"]] == [0, 1, 2, 3]
        for trial in run["trials"]:
            assert 0 <= trial["val_accuracy"] <= 1 and 0 <= trial["test_accuracy"] <= 1
            assert trial["seconds"] > 0 and trial["config"]
        # the best config trained once more, with the seed shared by both contestants
        assert [r["train_seed"] for r in run["retrained"]] == [bench.RETRAIN_SEED]
    for name in ("mlp", "cnn"):
        # auto: Sobol, then multivariate TPE (conditional momentum)
        assert [step["model"] for step in saved["runs"][f"{name}/0/auto"]["plan"]] == [
            "sobol", "tpe"]
        row = saved["summary"][name]["4"]
        counts = row["auto_minus_plain_val"]
        assert counts["auto_ge"] + counts["auto_lt"] == 1
        for contestant in bench.CONTESTANTS:
            assert 0 < row[contestant]["val_mean"] <= 1
            assert 0 < saved["summary"][name]["retrained"][contestant]["test_mean"] <= 1


def test_the_best_is_the_first_trial_to_reach_the_top_value_and_nan_is_skipped():
    trials = [{"val_accuracy": v, "test_accuracy": t}
              for v, t in [(0.5, 0.4), (None, None), (0.9, 0.8), (0.9, 0.95), (0.7, 0.99)]]
    assert bench.best_at(trials, 1) == (0.5, 0.4)
    assert bench.best_at(trials, 2) == (0.5, 0.4)
    assert bench.best_at(trials, 5) == (0.9, 0.8)  # not the later tie's test accuracy
    assert all(math.isnan(x) for x in bench.best_at(trials[1:2], 1))


def test_paired_counts_and_resume_keeps_matching_runs():
    def run(name, seed, contestant, values, epochs=2):
        return {"trainable": name, "seed": seed, "contestant": contestant, "epochs": epochs,
                "seconds": 1.0, "train_seconds": 0.5,
                "trials": [{"val_accuracy": v, "test_accuracy": v} for v in values]}

    runs = {bench.run_key("mlp", s, c): run("mlp", s, c, values)
            for s, c, values in [(0, "auto", [0.5, 0.9]), (0, "plain_optuna_tpe", [0.6, 0.8]),
                                 (1, "auto", [0.7, 0.7]), (1, "plain_optuna_tpe", [0.7, 0.75])]}
    table = bench.summary(runs, "mlp", [0, 1], [1, 2])
    assert table["1"]["auto_minus_plain_val"] | {"mean": 0, "std": 0} == {
        "mean": 0, "std": 0, "auto_ge": 1, "auto_lt": 1}
    assert table["2"]["auto_minus_plain_val"]["auto_ge"] == 1  # 0.9 >= 0.8, 0.7 < 0.75
    assert table["2"]["auto"]["val_mean"] == pytest.approx(0.8)

    old = {"protocol": {"seeds": {"mlp": [0, 1], "cnn": [0]}, "epochs": {"mlp": 2, "cnn": 8},
                        "cases": {}},
           "runs": {**runs, "cnn/0/auto": run("cnn", 0, "auto", [0.1, 0.2], epochs=8)},
           "summary": {"cnn": {"x": 1}}, "started": "then"}
    new = {"protocol": {"trials": 2, "seeds": {"mlp": [0]}, "epochs": {"mlp": 2}, "cases": {}},
           "runs": {}, "summary": {}, "started": "now"}
    merged = bench.resumed(old, new, ["mlp"])
    assert set(merged["runs"]) == {"mlp/0/auto", "mlp/0/plain_optuna_tpe", "cnn/0/auto"}
    assert merged["summary"] == {"cnn": {"x": 1}} and merged["started"] == "then"
    assert merged["protocol"]["epochs"] == {"mlp": 2, "cnn": 8}
    new["protocol"]["epochs"] = {"mlp": 3}  # other settings: the old mlp runs are dropped
    assert set(bench.resumed(old, new, ["mlp"])["runs"]) == {"cnn/0/auto"}


def test_seed_and_epoch_options():
    defaults = {"mlp": 10, "cnn": 3}
    assert bench.parse_counts(None, ["mlp", "cnn"], defaults, "--seeds") == defaults
    assert bench.parse_counts("4", ["mlp", "cnn"], defaults, "--seeds") == {"mlp": 4, "cnn": 4}
    assert bench.parse_counts("cnn=2", ["mlp", "cnn"], defaults, "--seeds") == {
        "mlp": 10, "cnn": 2}
    with pytest.raises(SystemExit):
        bench.parse_counts("rnn=2", ["mlp"], defaults, "--seeds")
    assert bench.training_seed(3, 7) == 3007
