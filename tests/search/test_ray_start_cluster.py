"""A cluster started the way the README says (`ray start --head`, `ray start --address`), with
Ray's token authentication on, as `ray start --head` turns it on since Ray 2.5x.

Real `ray start` processes on 127.0.0.1 (a head and one worker node, 1 CPU each), with their
own ports, temporary folder (``RAY_TMPDIR``) and token file (``RAY_AUTH_TOKEN_PATH``), so they
meet no other Ray of the machine; they are killed by process id at the end (`ray stop` would
stop every Ray of the machine). Campaigns run as real `sweepforge run` subprocesses.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import pytest
import yaml
from mlflow.tracking import MlflowClient

from tests.conftest import small_campaign

pytestmark = pytest.mark.slow

BIN = Path(sys.executable).parent


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _ray_processes(marker: str) -> list[int]:
    """Processes whose command line names ``marker`` (the cluster's temporary folder), and
    every process below them (Ray's workers rename themselves ``ray::...``)."""
    parents: dict[int, int] = {}
    marked = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().decode(errors="replace")
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        parents[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
        if marker in cmdline:
            marked.add(int(entry))
    found, grew = set(marked), True
    while grew:
        below = {pid for pid, parent in parents.items() if parent in found} - found
        found |= below
        grew = bool(below)
    return sorted(found)


@pytest.fixture(scope="module")
def cluster():
    """A head and a worker node started by `ray start`, token authentication on. Yields the
    head's address and the environment of a machine set up as README's "Scaling out" says."""
    temp = Path(tempfile.mkdtemp(prefix="sf-raystart-", dir="/tmp"))  # short: Unix socket paths
    token = temp / "auth_token"
    token.write_text(uuid.uuid4().hex)
    env = {key: value for key, value in os.environ.items()
           if key not in ("RAY_ADDRESS", "RAY_AUTH_MODE", "RAY_AUTH_TOKEN")}
    env.update(RAY_TMPDIR=str(temp), RAY_AUTH_TOKEN_PATH=str(token))
    joined = {**env, "RAY_AUTH_MODE": "token"}
    port = _free_port()
    address = f"127.0.0.1:{port}"
    common = ["--num-cpus", "1", "--temp-dir", str(temp), "--disable-usage-stats",
              "--node-ip-address", "127.0.0.1"]
    log = temp / "ray-start.log"
    try:
        with log.open("ab") as sink:
            subprocess.run(
                [str(BIN / "ray"), "start", "--head", "--port", str(port), *common,
                 "--include-dashboard", "false", "--dashboard-agent-listen-port", str(_free_port())],
                env=joined, check=True, stdout=sink, stderr=subprocess.STDOUT, timeout=120)
            subprocess.run(
                [str(BIN / "ray"), "start", "--address", address, *common,
                 "--dashboard-agent-listen-port", str(_free_port())],
                env=joined, check=True, stdout=sink, stderr=subprocess.STDOUT, timeout=120)
        yield {"address": address, "env": env, "joined": joined, "temp": temp}
    except subprocess.CalledProcessError as err:
        pytest.fail(f"`ray start` failed ({err}):\n{log.read_text()[-3000:]}")
    finally:
        pids = _ray_processes(str(temp))
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def _sweepforge(args: list[str], env: dict[str, str], cwd: Path,
                timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "sweepforge"), *args, "--no-progress", "--no-report"],
                          env={**env, "SWEEPFORGE_STATE_DIR": str(cwd / "state")}, cwd=cwd,
                          capture_output=True, text=True, timeout=timeout, check=False)


def _campaign_file(folder: Path, name: str) -> Path:
    path = folder / "campaign.yaml"
    path.write_text(yaml.safe_dump(small_campaign(
        name=name, strategies={"random": {}}, budget={"trials": 4, "max_epochs": 1})))
    return path


def _trial_nodes(uri: str, name: str) -> list[str]:
    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name(name)
    runs = client.search_runs([experiment.experiment_id], "tags.`sweepforge.kind` = 'trial'")
    assert {r.info.status for r in runs} == {"FINISHED"}
    return [node for r in runs for node in r.data.tags["sweepforge.nodes"].split(",")]


@pytest.fixture(scope="module")
def joined_campaign(cluster, tmp_path_factory):
    """A campaign run through `--address` by a master set up as the README says."""
    folder = tmp_path_factory.mktemp("joined")
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    done = _sweepforge(["run", str(_campaign_file(folder, "joined")), "--address",
                        cluster["address"], "--tracking-uri", uri], cluster["joined"], folder)
    assert done.returncode == 0, done.stdout + done.stderr
    return _trial_nodes(uri, "joined")


def test_a_campaign_joins_a_ray_start_cluster_with_the_token(joined_campaign):
    assert len(joined_campaign) == 4
    assert len(set(joined_campaign)) == 2  # trials ran on the head and on the worker node


def test_without_the_token_it_exits_2_naming_the_address_before_writing(cluster, tmp_path):
    db = tmp_path / "mlflow.db"
    refused = _sweepforge(["run", str(_campaign_file(tmp_path, "refused")), "--address",
                           cluster["address"], "--tracking-uri", f"sqlite:///{db}"],
                          cluster["env"], tmp_path)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    message = " ".join(refused.stderr.split())
    assert f"cannot join the Ray cluster at {cluster['address']}" in message
    assert "RAY_AUTH_MODE=token" in message and "Traceback" not in refused.stderr
    assert not db.exists()


def test_nothing_listening_exits_2_at_once_before_writing(tmp_path):
    db, address = tmp_path / "mlflow.db", f"127.0.0.1:{_free_port()}"
    refused = _sweepforge(["run", str(_campaign_file(tmp_path, "nobody")), "--address", address,
                           "--tracking-uri", f"sqlite:///{db}"], dict(os.environ), tmp_path)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    message = " ".join(refused.stderr.split())
    assert f"cannot join the Ray cluster at {address}: nothing answers there" in message
    assert not db.exists()  # ("nothing answers there" comes from the quick probe, not Ray's minute)


def test_without_address_a_campaign_starts_its_own_ray_beside_a_running_one(
        cluster, joined_campaign, tmp_path):
    """`ray start --head` left its address in RAY_TMPDIR/ray_current_cluster, where a plain
    ``ray.init()`` would find and join it; the campaign starts a Ray of its own instead."""
    assert (cluster["temp"] / "ray_current_cluster").is_file()
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    done = _sweepforge(["run", str(_campaign_file(tmp_path, "own-ray")), "--tracking-uri", uri],
                       cluster["env"], tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert not set(_trial_nodes(uri, "own-ray")) & set(joined_campaign)  # not the cluster's nodes
