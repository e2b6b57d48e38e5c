"""Training throughput of the ``mlp`` trainable's loop against a plain PyTorch loop.

The same MLP (784-256-256-10, Adam, lr 1e-3, built and initialized by ``build_mlp``) learns the
bundled MNIST subset (3,000 training rows) two ways, in one process, taking turns:

* **sweepforge**: ``train_model`` -> ``fit``, the path every trial of the ``mlp`` trainable runs;
* **plain**: the loop most PyTorch code has: ``nn.Linear`` layers holding the same initial
  weights, ``DataLoader(TensorDataset(x, y), shuffle=True)``, ``torch.optim.Adam`` with its
  defaults, ``loss.item()`` per step.

Both do the same work per epoch: one pass over the training split, then the validation loss and
accuracy (plus the test split after the last epoch). Throughput is training rows per second of
that whole run, the median of ``--runs`` runs. For scale, a float32 GEMM is timed between the
runs (so under the same conditions), and the table gives the loop's matmul FLOP rate as a share
of the GEMM's. On a CPU the GEMM is timed both in torch's own matmul (MKL on x86) and in oneDNN,
and the faster is the machine's rate: MKL leaves AVX-512 unused on non-Intel processors.

Usage:
    python benchmarks/trainable_throughput.py            # full run (about a minute on a CPU)
    python benchmarks/trainable_throughput.py --quick    # a short smoke run
    python benchmarks/trainable_throughput.py --device cuda   # data resident on the GPU
"""

from __future__ import annotations

import argparse
import itertools
import os
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from sweepforge.trainables import load_dataset
from sweepforge.trainables._loop import TensorSplits, classification, train_model
from sweepforge.trainables.components import dense, linear_backend
from sweepforge.trainables.mlp import MLPConfig, build_mlp

WIDTH, DEPTH, LR = 256, 2, 1e-3
CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}
Clock = Callable[[], float]
Loop = Callable[[TensorSplits, MLPConfig, int, Clock], tuple[float, float]]


@dataclass(frozen=True)
class Row:
    """One batch size's medians: training rows/s and val accuracy of each loop, GEMM GFLOP/s."""

    batch_size: int
    plain: float
    sweepforge: float
    plain_accuracy: float
    sweepforge_accuracy: float
    gemm: float


def sweepforge_run(
    splits: TensorSplits, config: MLPConfig, seed: int, clock: Clock = time.perf_counter
) -> tuple[float, float]:
    """Seconds and final val accuracy of the ``mlp`` trainable's own set-up and loop."""
    n_inputs, n_classes = splits.x_train.shape[1], int(splits.y_train.max()) + 1
    start = clock()
    result = train_model(
        lambda: build_mlp(config, n_inputs, n_classes),
        config,
        splits,
        classification(),
        device=splits.x_train.device,
        seed=seed,
    )
    return _elapsed(start, splits.x_train.device, clock), result["val_accuracy"]


def plain_run(
    splits: TensorSplits, config: MLPConfig, seed: int, clock: Clock = time.perf_counter
) -> tuple[float, float]:
    """Seconds and final val accuracy of a textbook PyTorch loop over a ``DataLoader``."""
    device = splits.x_train.device
    n_inputs, n_classes = splits.x_train.shape[1], int(splits.y_train.max()) + 1
    start = clock()
    torch.manual_seed(seed)
    model = plain_mlp(build_mlp(config, n_inputs, n_classes)).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    loader = DataLoader(
        TensorDataset(splits.x_train, splits.y_train), batch_size=config.batch_size, shuffle=True
    )
    for epoch in range(config.epochs):
        model.train()
        running_loss = 0.0
        for xb, yb in loader:
            optimizer.zero_grad()
            loss = F.cross_entropy(model(xb), yb)
            loss.backward()
            optimizer.step()
            running_loss += loss.item() * len(xb)
        val_loss, val_accuracy = _plain_evaluate(model, splits.x_val, splits.y_val)
        metrics = {
            "train_loss": running_loss / len(splits.y_train),
            "val_loss": val_loss,
            "val_accuracy": val_accuracy,
        }
        if epoch == config.epochs - 1:
            metrics["test_loss"], metrics["test_accuracy"] = _plain_evaluate(
                model, splits.x_test, splits.y_test
            )
    return _elapsed(start, device, clock), metrics["val_accuracy"]


def plain_mlp(model: nn.Module) -> nn.Sequential:
    """The same network, weights included, with every ``Dense`` as a plain ``nn.Linear``."""
    layers = [
        nn.Linear(m.in_features, m.out_features) if isinstance(m, nn.Linear) else m
        for m in model.layers
    ]
    plain = nn.Sequential(*layers)
    plain.load_state_dict({k.removeprefix("layers."): v for k, v in model.state_dict().items()})
    return plain


def _plain_evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    model.eval()
    with torch.no_grad():
        logits = model(x)
        return F.cross_entropy(logits, y).item(), (logits.argmax(1) == y).float().mean().item()


def onednn_mm(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``a @ b`` in oneDNN, by the very call ``Dense`` makes (``b.t()`` read through its
    strides)."""
    return dense._onednn_linear(a, b.t(), None)


def gemm_rate(
    shapes: list[tuple[int, int, int]],
    device: torch.device,
    seconds: float,
    clock: Clock = time.perf_counter,
    product: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = torch.mm,
) -> float:
    """GFLOP/s of float32 ``product((m, k), (k, n))`` for each shape in turn, best of five
    timings of about ``seconds / 5`` each."""
    operands = [
        (torch.randn(m, k, device=device), torch.randn(k, n, device=device)) for m, k, n in shapes
    ]
    flops = sum(2 * m * k * n for m, k, n in shapes)

    def timed(repeats: int) -> float:
        start = clock()
        for _ in range(repeats):
            for a, b in operands:
                product(a, b)
        return _elapsed(start, device, clock)

    repeats = 1
    while timed(repeats) < seconds / 5:
        repeats *= 2
    return flops * repeats / min(timed(repeats) for _ in range(5)) / 1e9


def _elapsed(start: float, device: torch.device, clock: Clock) -> float:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return clock() - start


def measure(
    splits: TensorSplits,
    batch_size: int,
    *,
    epochs: int,
    runs: int,
    gemm: Callable[[], float],
    clock: Clock = time.perf_counter,
    seed: int = 0,
) -> Row:
    """Warm both loops up once, then time ``runs`` runs of each, alternating which goes first;
    ``gemm()`` (GFLOP/s) is timed after each pair, so it sees the same machine load."""
    config = MLPConfig(
        lr=LR, batch_size=batch_size, optimizer="adam", depth=DEPTH, width=WIDTH, epochs=epochs
    )
    loops: dict[str, Loop] = {"plain": plain_run, "sweepforge": sweepforge_run}
    for run in loops.values():
        run(splits, config, seed, clock)
    seconds: dict[str, list[float]] = {name: [] for name in loops}
    accuracy: dict[str, list[float]] = {name: [] for name in loops}
    gflops = []
    for attempt in range(runs):
        for name in list(loops) if attempt % 2 == 0 else list(reversed(loops)):
            elapsed, val_accuracy = loops[name](splits, config, seed + attempt, clock)
            seconds[name].append(elapsed)
            accuracy[name].append(val_accuracy)
        gflops.append(gemm())
    rows = epochs * len(splits.y_train)
    rate = {name: rows / statistics.median(times) for name, times in seconds.items()}
    return Row(
        batch_size,
        rate["plain"],
        rate["sweepforge"],
        statistics.median(accuracy["plain"]),
        statistics.median(accuracy["sweepforge"]),
        statistics.median(gflops),
    )


def linear_shapes(n_inputs: int, n_classes: int) -> list[tuple[int, int]]:
    """``(in_features, out_features)`` of the benchmarked MLP's Linear layers, in order."""
    sizes = [n_inputs] + [WIDTH] * DEPTH + [n_classes]
    return list(itertools.pairwise(sizes))


def step_flops_per_row(shapes: list[tuple[int, int]]) -> tuple[int, int]:
    """Matmul FLOPs per training row: ``(executed, 6 * weights)``.

    Executed: forward ``x @ W.T``, the weight gradient and the input gradient of every layer but
    the first (its input, the data, needs no gradient), ``2 * in * out`` each. The common
    ``6 * params`` estimate counts the first layer's input gradient too.
    """
    products = [n_in * n_out for n_in, n_out in shapes]
    return 2 * (2 * sum(products) + sum(products[1:])), 6 * sum(products)


def step_gemm_shapes(shapes: list[tuple[int, int]], batch: int) -> list[tuple[int, int, int]]:
    """The ``(m, k, n)`` matmuls of one training step of ``batch`` rows (see step_flops_per_row)."""
    forward = [(batch, n_in, n_out) for n_in, n_out in shapes]
    weight_grads = [(n_out, batch, n_in) for n_in, n_out in shapes]
    input_grads = [(batch, n_out, n_in) for n_in, n_out in shapes[1:]]
    return forward + weight_grads + input_grads


def machine(device: torch.device) -> str:
    """One line: processor (or GPU), logical CPUs, torch version and torch thread count."""
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else _cpu_model()
    return (
        f"{where}; {os.cpu_count()} logical CPUs; torch {torch.__version__}; "
        f"{torch.get_num_threads()} torch thread(s); Python {platform.python_version()}"
    )


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def report(rows: list[Row], flops: dict[str, float]) -> str:
    """The markdown table: rows/s of each loop, speed-up, and sweepforge's matmul GFLOP/s as a
    share of the GEMM rate (``flops``: matmul FLOPs per training row, ``executed`` and ``6N``)."""
    header = (
        "| batch | plain loop rows/s | sweepforge rows/s | speed-up | sweepforge GFLOP/s "
        "| GEMM GFLOP/s | % of GEMM | % of GEMM (6N) | val acc plain / sweepforge |"
    )
    lines = [header, "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for row in rows:
        achieved = row.sweepforge * flops["executed"] / 1e9
        six_n = row.sweepforge * flops["6N"] / 1e9
        lines.append(
            f"| {row.batch_size} | {row.plain:,.0f} | {row.sweepforge:,.0f} "
            f"| {row.sweepforge / row.plain:.2f}x | {achieved:.1f} | {row.gemm:.1f} "
            f"| {100 * achieved / row.gemm:.0f}% | {100 * six_n / row.gemm:.0f}% "
            f"| {row.plain_accuracy:.3f} / {row.sweepforge_accuracy:.3f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run: 1 epoch, 3 runs")
    parser.add_argument("--runs", type=int, help="timed runs per loop (median); default 7")
    parser.add_argument("--epochs", type=int, help="epochs per run; default 5")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[32, 64, 256])
    parser.add_argument("--device", default="cpu", help="cpu or cuda (data resident there)")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument(
        "--clock",
        choices=sorted(CLOCKS),
        default="wall",
        help="time by wall clock, or by this process's CPU time (steadier on a shared CPU; "
        "meaningless with a GPU)",
    )
    args = parser.parse_args(argv)
    args.runs = args.runs or (3 if args.quick else 7)
    args.epochs = args.epochs or (1 if args.quick else 5)
    torch.set_num_threads(args.threads)
    device, clock = torch.device(args.device), CLOCKS[args.clock]

    splits = TensorSplits.from_dataset(load_dataset("mnist"), device, scaling="standard")
    shapes = linear_shapes(splits.x_train.shape[1], int(splits.y_train.max()) + 1)
    executed, six_n = step_flops_per_row(shapes)
    # Each run also evaluates: the val split every epoch, the test split once (forward only).
    train_rows = args.epochs * len(splits.y_train)
    evaluated = (args.epochs * len(splits.y_val) + len(splits.y_test)) / train_rows
    forward = 2 * sum(n_in * n_out for n_in, n_out in shapes)
    flops = {"executed": executed + evaluated * forward, "6N": six_n + evaluated * forward}
    square = (8192 if device.type == "cuda" else 2048) // (2 if args.quick else 1)
    gemm_seconds = 0.1 if args.quick else 0.5

    products = {"torch.mm": torch.mm}
    if device.type == "cpu" and dense._onednn_problem() is None:
        products["oneDNN"] = onednn_mm
    gemm_rates: dict[str, list[float]] = {name: [] for name in products}

    def gemm() -> float:
        for name, product in products.items():
            gemm_rates[name].append(
                gemm_rate([(square, square, square)], device, gemm_seconds, clock, product)
            )
        return max(rates[-1] for rates in gemm_rates.values())

    load_before = os.getloadavg()[0]
    rows = [
        measure(splits, bs, epochs=args.epochs, runs=args.runs, gemm=gemm, clock=clock)
        for bs in args.batch_sizes
    ]
    load_after = os.getloadavg()[0]
    batch = max(args.batch_sizes)
    backend = linear_backend() if device.type == "cpu" else "torch"
    step_product = onednn_mm if backend == "onednn" else torch.mm
    step_rate = gemm_rate(
        step_gemm_shapes(shapes, batch), device, gemm_seconds, clock, step_product
    )

    print(f"machine: {machine(device)}")
    print(
        f"MLP {'-'.join(str(n) for n, _ in shapes)}-{shapes[-1][1]}, Adam lr {LR}, "
        f"{len(splits.y_train)} training rows, {args.epochs} epoch(s) per run, median of "
        f"{args.runs} runs, {args.clock} clock; load average {load_before:.2f} -> {load_after:.2f}"
    )
    medians = ", ".join(
        f"{name} {statistics.median(rates):.1f}" for name, rates in gemm_rates.items()
    )
    print(
        f"float32 GEMM: {square}^3 timed between runs, the faster of {medians} GFLOP/s (median) "
        f"is the table's GEMM column; sweepforge's Dense layers use the {backend} backend; one "
        f"training step's matmuls at batch {batch}, timed alone in it: {step_rate:.1f} GFLOP/s"
    )
    print(
        f"matmul FLOPs per training row: {executed / 1e6:.2f} M executed "
        f"({six_n / 1e6:.2f} M by the 6 x weights estimate), plus "
        f"{evaluated * forward / 1e6:.2f} M for its share of the evaluation\n"
    )
    print(report(rows, flops))


if __name__ == "__main__":
    main()
