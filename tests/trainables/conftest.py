"""Shared test setup for sweepforge.trainables."""

import pytest
import torch


@pytest.fixture(autouse=True, scope="package")
def _one_torch_thread():
    """Train on one thread: these models are tiny, and extra threads only contend on small CI
    machines (and make timings noisy). The caller's setting is restored afterwards."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
