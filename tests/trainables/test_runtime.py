"""Where and how reproducibly a trainable runs: the torch device and a seeded RNG block."""

import pytest
import torch

from sweepforge.trainables import ConfigError
from sweepforge.trainables._runtime import check_seed, resolve_device, seeded


def test_resolve_device():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device(torch.device("cpu")) == torch.device("cpu")
    with pytest.raises(ConfigError, match="is not a valid torch device") as err:
        resolve_device("tpu-ish")
    assert err.value.field == "device"


@pytest.mark.parametrize("seed", [-1, 1.5, True, "0"])
def test_bad_seeds(seed):
    with pytest.raises(ConfigError, match="must be an int >= 0"):
        check_seed(seed)


def test_seeded_block_is_reproducible_and_restores_state():
    torch.manual_seed(1)
    outside = torch.random.get_rng_state()
    with seeded(7, torch.device("cpu")):
        a = torch.rand(2)
    with seeded(7, torch.device("cpu")):
        b = torch.rand(2)
    assert torch.equal(a, b)
    assert torch.equal(torch.random.get_rng_state(), outside)
