"""`sweepforge datasets` and `sweepforge trainables`: what a campaign file may name."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from sweepforge.search.cli import app
from sweepforge.trainables import get_trainable, list_datasets, list_trainables

runner = CliRunner()


def rows_of(output: str) -> dict[str, list[str]]:
    """The table rows of rich's output, by first cell."""
    rows = {}
    for line in output.splitlines():
        cells = [cell.strip() for cell in line.strip("│").split("│")]
        if len(cells) > 1 and cells[0]:
            rows[cells[0]] = cells[1:]
    return rows


def test_datasets_lists_every_registered_dataset():
    result = runner.invoke(app, ["datasets"])
    assert result.exit_code == 0, result.output
    rows = rows_of(result.output)
    assert set(list_datasets()) <= set(rows)
    assert rows["iris"][:5] == ["classification", "150", "4", "3 classes", "-"]
    assert rows["digits"][4] == "1x8x8"
    assert rows["diabetes"][3] == "number"
    assert rows["diamonds"][:3] == ["regression", "53940", "9"]
    assert rows["diamonds"][5] == "cut (5), color (7), clarity (8)"


def test_datasets_describes_a_users_table(tmp_path):
    path = tmp_path / "pets.csv"
    pd.DataFrame({"kind": ["cat", "dog", "fish"] * 10, "age": range(30),
                  "adopted": ["yes", "no"] * 15}).to_csv(path, index=False)
    result = runner.invoke(app, ["datasets", "--path", str(path), "--target", "adopted",
                                 "--categorical", "kind"])
    assert result.exit_code == 0, result.output
    assert rows_of(result.output)["pets"] == [
        "classification", "30", "2", "adopted: 2 classes", "-", "kind (3)"
    ]


def test_datasets_with_a_bad_table_exits_2_naming_the_option(tmp_path):
    path = tmp_path / "pets.csv"
    pd.DataFrame({"kind": ["cat", "dog"] * 5, "age": range(10)}).to_csv(path, index=False)
    result = runner.invoke(app, ["datasets", "--path", str(path), "--target", "ages"])
    assert result.exit_code == 2
    assert "--target" in result.output and "did you mean 'age'" in result.output
    result = runner.invoke(app, ["datasets", "--path", str(path)])
    assert result.exit_code == 2 and "--target" in result.output


def test_datasets_refuses_table_options_without_a_path():
    """--target, --categorical and --task describe the table at --path: alone they would be
    ignored, and the registered datasets listed as if they were not given."""
    result = runner.invoke(app, ["datasets", "--target", "price_k"])
    assert result.exit_code == 2
    assert "--target needs --path" in result.output and "Datasets" not in result.output
    result = runner.invoke(app, ["datasets", "--categorical", "shop", "--task", "regression"])
    assert result.exit_code == 2 and "--categorical, --task need --path" in result.output


def test_trainables_lists_every_family_with_its_knobs():
    result = runner.invoke(app, ["trainables"])
    assert result.exit_code == 0, result.output
    rows = rows_of(result.output)
    assert set(list_trainables()) <= set(rows)
    learns, data, datasets, knobs = rows["entity_embedding"]
    assert (learns, data) == ("supervised", "regression or classification")
    assert datasets == "store_sales, diamonds"
    assert knobs.startswith("lr, batch_size, optimizer")
    assert rows["mlp"][2] == ", ".join(get_trainable("mlp").datasets)


def test_one_trainable_in_full():
    result = runner.invoke(app, ["trainables", "entity_embedding"])
    assert result.exit_code == 0, result.output
    assert "datasets: store_sales, diamonds" in result.output
    assert "val_mape" in result.output
    rows = rows_of(result.output)
    assert set(get_trainable("entity_embedding").field_names()) <= set(rows)
    assert rows["encoding"][:2] == ["str", "'embedding'"]
    assert "onehot" in rows["encoding"][2]
    assert rows["lr"][:2] == ["float", "0.003"]
    assert rows["log_target"][:2] == ["bool", "True"]


def test_an_unknown_trainable_exits_2_with_close_names():
    result = runner.invoke(app, ["trainables", "entity_embeding"])
    assert result.exit_code == 2
    assert "did you mean 'entity_embedding'" in result.output


def test_the_installed_command_lists_trainables():
    script = Path(sys.executable).with_name("sweepforge")
    done = subprocess.run([str(script), "trainables", "mlp"], capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert "Knobs of mlp (MLPConfig)" in done.stdout


_PLAIN = '''
def train(config, data, report=None):
    return {"val_score": config["x"]}
'''

_DECLARED = '''
from dataclasses import dataclass, field


@dataclass
class Knobs:
    lr: float = field(default=0.01, metadata={"help": "step size of the optimizer"})
    hidden: int = 64
    epochs: int = 5


def train(config: Knobs, data, report=None, *, checkpoint=None):
    return {"val_score": config.lr}
'''


def test_trainables_shows_what_sweepforge_makes_of_a_plain_function(tmp_path, monkeypatch):
    (tmp_path / "cli_plain_fn.py").write_text(_PLAIN)
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["trainables", "./cli_plain_fn.py:train"])
    assert result.exit_code == 0, result.output
    out = " ".join(result.output.split())
    assert out.startswith("cli_plain_fn:train: your own function")
    assert "takes no `checkpoint`, so a retried, moved or resumed trial starts again from epoch 0" in out
    assert "knobs: a plain dict of the campaign's space: and fixed: names" in out
    assert "custom" not in out and "datasets:" not in out


def test_trainables_lists_the_knobs_of_a_function_with_a_config_dataclass(tmp_path, monkeypatch):
    (tmp_path / "cli_declared_fn.py").write_text(_DECLARED)
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["trainables", "./cli_declared_fn.py:train"])
    assert result.exit_code == 0, result.output
    out = " ".join(result.output.split())
    assert "it takes `checkpoint`, so a retried, moved or resumed trial continues" in out
    assert "Knobs of cli_declared_fn:train (Knobs)" in out
    rows = {line.split("│")[1].strip() for line in result.output.splitlines() if line.count("│") > 3}
    assert {"lr", "hidden", "epochs"} <= rows
    assert "custom" not in out and "datasets:" not in out


def test_trainables_names_a_missing_function_with_exit_2(tmp_path, monkeypatch):
    (tmp_path / "cli_missing_fn.py").write_text(_PLAIN)
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["trainables", "./cli_missing_fn.py:trian"])
    assert result.exit_code == 2
    assert "module 'cli_missing_fn' has no function 'trian'; its functions: train" in " ".join(
        result.output.split())
