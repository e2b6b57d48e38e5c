"""A sweepforge trainable in plain Python: no Ray, no MLflow, no campaign.

    python examples/reuse/plain_python.py

``get_trainable(name).train(config, data, report)`` trains one model and returns its final
metrics; ``report`` (any callable) sees each epoch's metrics. A ``DirectoryCheckpointer`` makes
the run resumable: run the script twice and the second run starts after the first one's last
epoch.
"""

from __future__ import annotations

import sys
import tempfile

from sweepforge.trainables import DirectoryCheckpointer, get_trainable, load_dataset


def main(epochs: int = 10, checkpoint_dir: str | None = None) -> dict[str, float]:
    spec = get_trainable("mlp")
    data = load_dataset("digits", seed=0)  # bundled with scikit-learn; split 60/20/20 by seed
    config = {"lr": 3e-3, "optimizer": "adamw", "depth": 2, "width": 64, "dropout": 0.1,
              "epochs": epochs}
    checkpoint = DirectoryCheckpointer(checkpoint_dir) if checkpoint_dir else None

    def report(metrics: dict[str, float]) -> None:
        print(f"epoch {metrics['epoch']:>2}: val_accuracy {metrics['val_accuracy']:.3f}")

    result = spec.train(config, data, report, seed=0, checkpoint=checkpoint)
    print(f"test accuracy {result['test_accuracy']:.3f}")
    return result


if __name__ == "__main__":
    main(checkpoint_dir=sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp(prefix="mlp-"))
