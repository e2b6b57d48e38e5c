"""The trainables' environment hooks: check_environment() refuses a bad setting before anything
runs; runtime_tags(device) says what a run should be tagged with. Neither imports torch."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch

from sweepforge.trainables import ConfigError, check_environment, get_trainable, runtime_tags
from sweepforge.trainables.components import dense as dense_module
from sweepforge.trainables.components import linear_backend

VAR = "SWEEPFORGE_LINEAR_BACKEND"


@pytest.fixture(autouse=True)
def _restore_backend(monkeypatch):
    """The process's linear backend comes back after each test."""
    monkeypatch.setattr(dense_module, "_resolved", dense_module._resolved)


@pytest.mark.parametrize("value", ["", "auto", "torch", " Torch "])
def test_valid_settings_pass(monkeypatch, value):
    monkeypatch.setenv(VAR, value)
    check_environment()


def test_no_setting_passes(monkeypatch):
    monkeypatch.delenv(VAR, raising=False)
    check_environment()


def test_an_unknown_linear_backend_names_the_variable_the_value_and_the_allowed_ones(monkeypatch):
    monkeypatch.setenv(VAR, "mkl")
    with pytest.raises(
        ConfigError,
        match=r"^SWEEPFORGE_LINEAR_BACKEND='mkl' is not a linear backend; "
        r"use one of auto, onednn, torch$",
    ) as err:
        check_environment()
    assert err.value.field == VAR


def test_the_setting_is_checked_whatever_this_process_chose(monkeypatch):
    """Workers read the variable afresh, so an in-process choice does not hide a bad value."""
    dense_module.set_linear_backend("torch")
    monkeypatch.setenv(VAR, "fast")
    with pytest.raises(ConfigError, match="SWEEPFORGE_LINEAR_BACKEND='fast'"):
        check_environment()
    assert linear_backend() == "torch"


def test_onednn_asked_for_where_it_computes_wrongly_is_refused(monkeypatch):
    """Fault injection: a oneDNN op that gives wrong numbers; checking leaves the process's
    backend as it was."""
    dense_module.set_linear_backend("torch")
    monkeypatch.setattr(dense_module, "_onednn_linear", lambda x, w, b: torch.zeros(1))
    monkeypatch.setenv(VAR, "onednn")
    with pytest.raises(
        ConfigError, match=r"^linear backend 'onednn' cannot be used here: .*differs from F\.linear"
    ) as err:
        check_environment()
    assert err.value.field == VAR
    assert linear_backend() == "torch"


@pytest.mark.skipif(dense_module._onednn_problem() is not None, reason="no oneDNN linear here")
def test_onednn_asked_for_where_it_works_passes(monkeypatch):
    monkeypatch.setenv(VAR, "onednn")
    check_environment()


def test_runtime_tags_name_the_linear_backend_on_a_cpu_only():
    get_trainable("mlp")  # imports Dense
    assert runtime_tags("cpu") == {"linear_backend": linear_backend()}
    assert runtime_tags("cpu") in ({"linear_backend": "onednn"}, {"linear_backend": "torch"})
    assert runtime_tags("cuda") == {} and runtime_tags("cuda:1") == {}


def test_the_hooks_import_no_torch_and_tag_nothing_without_dense():
    script = (
        "import os, sys\n"
        "from sweepforge.trainables import ConfigError, check_environment, runtime_tags\n"
        "assert runtime_tags('cpu') == {}, runtime_tags('cpu')\n"
        "check_environment()\n"
        f"os.environ['{VAR}'] = 'mkl'\n"
        "try:\n"
        "    check_environment()\n"
        "except ConfigError:\n"
        "    pass\n"
        "else:\n"
        "    raise AssertionError('mkl passed')\n"
        "print('torch' in sys.modules)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != VAR}
    out = subprocess.run(
        [sys.executable, "-c", script], check=False, capture_output=True, text=True, env=env
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"
