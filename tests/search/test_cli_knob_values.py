"""`sweepforge trainables NAME` lists the values a string knob allows, as an error would."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sweepforge.search.cli import app
from sweepforge.trainables import ACTIVATIONS, INITIALIZERS, OPTIMIZERS

from .test_cli_lists import rows_of

runner = CliRunner()


def test_the_installed_command_spells_out_optimizers_initializers_and_activations():
    script = Path(sys.executable).with_name("sweepforge")
    done = subprocess.run([str(script), "trainables", "mlp"], capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    rows = rows_of(done.stdout)
    assert rows["optimizer"][2] == f"one of: {', '.join(OPTIMIZERS)}"
    assert rows["init"][2] == (
        f"weight initializer, one of: {', '.join(INITIALIZERS)} (biases start at zero)"
    )
    assert rows["activation"][2] == f"hidden-layer activation, one of: {', '.join(ACTIVATIONS)}"
    for name in ("OPTIMIZERS", "INITIALIZERS", "ACTIVATIONS"):
        assert name not in done.stdout


@pytest.mark.parametrize("name", ["autoencoder", "rnn", "cnn", "entity_embedding", "word2vec"])
def test_no_family_names_a_list_instead_of_its_values(name):
    result = runner.invoke(app, ["trainables", name])
    assert result.exit_code == 0, result.output
    assert "one of:" in result.output
    for row in rows_of(result.output).values():
        assert "one of" not in row[-1] or "one of:" in row[-1], row


@pytest.mark.parametrize("name", ["mlp", "mlp_regressor", "autoencoder"])
def test_the_batch_norm_knob_is_listed(name):
    result = runner.invoke(app, ["trainables", name])
    assert result.exit_code == 0, result.output
    assert rows_of(result.output)["batch_norm"][:2] == ["bool", "False"]
