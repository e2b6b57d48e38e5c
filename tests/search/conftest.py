"""Fixtures shared by tests/search."""

from __future__ import annotations

import pytest

from tests.search.mlflow_server import MlflowServer


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    running = MlflowServer(tmp_path_factory.mktemp("mlflow-server"))
    running.start()
    yield running
    running.stop()
