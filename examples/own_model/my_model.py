"""A small PyTorch MLP and its training loop: `trainable: ./my_model.py:train`.

Plain PyTorch, no sweepforge import: call ``train(config, data)`` from a script or a notebook
just as well. The knobs in ``config`` are lr, hidden, dropout, optimizer ("adam", or "sgd" with
momentum 0.9), batch_size and epochs.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.functional import cross_entropy


def to_tensors(X, y, device: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Numpy ``(X, y)`` as float32 features and int64 labels on ``device``."""
    X = torch.as_tensor(X, dtype=torch.float32, device=device)
    return X, torch.as_tensor(y, dtype=torch.int64, device=device)


def evaluate(model: nn.Module, X: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    """Mean cross-entropy and accuracy of ``model`` on ``(X, y)``."""
    model.eval()
    with torch.no_grad():
        logits = model(X)
    return cross_entropy(logits, y).item(), (logits.argmax(1) == y).float().mean().item()


def train(config, data, report=None, *, device="cpu", seed=0, checkpoint=None):
    """Train the MLP for ``config["epochs"]`` epochs; return the last metrics and test accuracy.

    ``report(metrics)`` is called after every epoch. With a ``checkpoint``, training starts
    after the last saved epoch, and every epoch is saved before it is reported.
    """
    torch.manual_seed(seed)
    X_train, y_train = to_tensors(data.X_train, data.y_train, device)
    X_val, y_val = to_tensors(data.X_val, data.y_val, device)
    X_test, y_test = to_tensors(data.X_test, data.y_test, device)
    n_classes = int(data.y_train.max()) + 1
    model = nn.Sequential(
        nn.Linear(X_train.shape[1], config["hidden"]),
        nn.ReLU(),
        nn.Dropout(config["dropout"]),
        nn.Linear(config["hidden"], n_classes),
    ).to(device)
    if config["optimizer"] == "adam":
        optimizer = torch.optim.Adam(model.parameters(), lr=config["lr"])
    else:
        optimizer = torch.optim.SGD(model.parameters(), lr=config["lr"], momentum=0.9)

    first_epoch, metrics = 1, {}
    state = checkpoint.load() if checkpoint is not None else None
    if state is not None:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        first_epoch, metrics = state["epoch"] + 1, state["metrics"]

    for epoch in range(first_epoch, config["epochs"] + 1):
        torch.manual_seed(seed * 1000 + epoch)  # a resumed trial shuffles as an unbroken one
        model.train()
        total_loss = 0.0
        for batch in torch.randperm(len(X_train), device=device).split(config["batch_size"]):
            loss = cross_entropy(model(X_train[batch]), y_train[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total_loss += loss.item() * len(batch)
        metrics = {"epoch": epoch, "train_loss": total_loss / len(X_train)}
        metrics["val_loss"], metrics["val_accuracy"] = evaluate(model, X_val, y_val)
        if checkpoint is not None:
            checkpoint.save(
                {
                    "epoch": epoch,
                    "model": model.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "metrics": metrics,
                }
            )
        if report is not None:
            report(metrics)

    _, test_accuracy = evaluate(model, X_test, y_test)
    return {**metrics, "test_accuracy": test_accuracy}
