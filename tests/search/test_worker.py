"""What runs in a Ray worker (``search/tune/worker.py``), apart from training, which every
campaign test covers: the temporary checkpoint folders of workers that were killed."""

from __future__ import annotations

import os
import subprocess
import sys

from sweepforge.search.tune.worker import _sweep_checkpoint_folders_of_dead_workers


def test_a_killed_worker_s_checkpoint_folder_is_removed_by_the_next_worker(tmp_path):
    """A worker killed while Ray Tune copies its report's checkpoint (Ctrl-C, SIGTERM) leaves
    the folder behind; the next worker removes it, and nothing of a live process."""
    ended = subprocess.Popen([sys.executable, "-c", "pass"])
    ended.wait()
    left = tmp_path / f"sweepforge-checkpoint-{ended.pid}-k1ll3d"
    left.mkdir()
    (left / "checkpoint.pt").write_bytes(b"weights")
    live = tmp_path / f"sweepforge-checkpoint-{os.getpid()}-4l1v3"
    live.mkdir()
    older = tmp_path / "sweepforge-checkpoint-x_1hllgi"  # named before the pid was in the name
    older.mkdir()

    removed = _sweep_checkpoint_folders_of_dead_workers(str(tmp_path))

    assert removed == [left] and not left.exists()
    assert live.is_dir() and older.is_dir()
