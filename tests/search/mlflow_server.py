"""A real ``mlflow server`` on 127.0.0.1 for the tests that need a tracking server
(test_tracking_outage.py stops and restarts it; test_registry_server.py registers on it). The
module-scoped fixture ``server`` is in this folder's conftest.py."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path


class MlflowServer:
    """A real ``mlflow server`` subprocess on 127.0.0.1 that can be stopped and started again
    on the same port and store."""

    def __init__(self, folder: Path):
        self.folder = folder
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.uri = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        command = [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1",
                   "--port", str(self.port), "--workers", "1",
                   "--backend-store-uri", f"sqlite:///{self.folder / 'mlflow.db'}",
                   "--artifacts-destination", str(self.folder / "artifacts")]
        log = open(self.folder / "server.log", "ab")
        self.process = subprocess.Popen(command, stdout=log, stderr=log, cwd=self.folder,
                                        start_new_session=True)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.uri}/health", timeout=2) as answer:
                    if answer.status == 200:
                        return
            except OSError:
                time.sleep(0.5)
        raise RuntimeError(f"mlflow server did not start: {(self.folder / 'server.log').read_text()[-2000:]}")

    def stop(self) -> None:
        """SIGTERM to the server's process group (gunicorn/uvicorn workers included)."""
        if self.process is None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        self.process = None
        with socket.socket() as probe:  # the port must refuse connections now
            assert probe.connect_ex(("127.0.0.1", self.port)) != 0
