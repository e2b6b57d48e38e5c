"""The throughput benchmark runs, counts FLOPs right and prints its table (timings unchecked)."""

import importlib.util
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).parents[1] / "benchmarks" / "trainable_throughput.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("trainable_throughput", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    yield module
    del sys.modules[spec.name]


def test_flops_of_the_benchmarked_mlp(bench):
    shapes = bench.linear_shapes(784, 10)
    assert shapes == [(784, 256), (256, 256), (256, 10)]
    weights = 784 * 256 + 256 * 256 + 256 * 10
    executed, six_n = bench.step_flops_per_row(shapes)
    assert six_n == 6 * weights
    assert executed == six_n - 2 * 784 * 256  # the data needs no input gradient
    step = bench.step_gemm_shapes(shapes, 32)
    assert sum(2 * m * k * n for m, k, n in step) == 32 * executed


def test_quick_run_prints_a_markdown_row_per_batch_size(bench, capsys):
    bench.main(["--quick", "--runs", "1", "--batch-sizes", "256", "--clock", "cpu"])
    out = capsys.readouterr().out
    assert "| batch | plain loop rows/s | sweepforge rows/s | speed-up |" in out
    row = next(line for line in out.splitlines() if line.startswith("| 256 |"))
    cells = [cell.strip() for cell in row.strip("|").split("|")]
    assert float(cells[3].rstrip("x")) > 0
    plain_accuracy, sweepforge_accuracy = map(float, cells[-1].split(" / "))
    assert plain_accuracy > 0.5 and sweepforge_accuracy > 0.5  # both really learned


def test_the_plain_loop_trains_plain_linear_layers_with_the_same_weights(bench):
    import torch

    from sweepforge.trainables.mlp import MLPConfig, build_mlp

    model = build_mlp(MLPConfig(width=32), 64, 10)
    plain = bench.plain_mlp(model)
    assert {type(m).__name__ for m in plain} == {"Linear", "ReLU"}
    x = torch.randn(5, 64)
    torch.testing.assert_close(plain(x), model(x))
