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


# --- the user's own code, sent to the cluster's nodes by Ray ------------------------------------

_USER_MODEL = '''
import time
from pathlib import Path

from helpers import score          # a file beside this one: it travels with the folder


def train(config, data, report=None):
    here = Path(__file__).resolve().parent
    with open(config["marker"], "a") as out:
        out.write(f"{here} {(here / 'big.bin').exists()} {(here / 'notes.txt').exists()}\\n")
    for epoch in range(1, 3):
        time.sleep(0.5)  # long enough for the two nodes to run trials side by side
        report({"epoch": epoch, "val_score": score(config["x"], epoch)})
'''


def _user_project(root: Path, big_mib: int = 0) -> Path:
    """A user's project outside the repository: a model file, a helper beside it, a loader,
    a text file and (``big_mib``) a large file that ``.rayignore`` keeps out."""
    project = root / "my-project"
    project.mkdir()
    (project / "my_model.py").write_text(_USER_MODEL)
    (project / "helpers.py").write_text("def score(x, epoch):\n    return -(x - 0.3) ** 2 + epoch\n")
    (project / "my_data.py").write_text("def load():\n    return 'rows live on the workers'\n")
    (project / "notes.txt").write_text("shipped with the code\n")
    if big_mib:
        (project / "big.bin").write_bytes(os.urandom(big_mib * 2**20))
    return project


def _user_campaign(project: Path, marker: Path, name: str) -> Path:
    path = project / "campaign.yaml"
    path.write_text(yaml.safe_dump({
        "name": name, "trainable": "./my_model.py:train", "dataset": {"loader": "./my_data.py:load"},
        "metric": "val_score", "mode": "max", "seed": 0, "fixed": {"marker": str(marker)},
        "budget": {"trials": 4, "max_epochs": 2}, "resources": {"cpu": 1},
        "space": {"x": {"type": "float", "low": 0.0, "high": 1.0}},
        "strategies": {"random": {}},
    }))
    return path


def test_the_users_code_folder_goes_to_the_nodes_through_ray(cluster, tmp_path):
    """The user's project (not on sys.path, outside the repository) run with --address from
    another folder: each trial imports the copy of the folder Ray unpacked on its node, not the
    original, with the files beside the model and without what .rayignore lists."""
    project = _user_project(tmp_path, big_mib=1)
    (project / ".rayignore").write_text("big.bin\n")
    elsewhere, marker = tmp_path / "elsewhere", tmp_path / "where.txt"
    elsewhere.mkdir()
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    done = _sweepforge(["run", str(_user_campaign(project, marker, "shipped")), "--address",
                        cluster["address"], "--tracking-uri", uri], cluster["joined"], elsewhere)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = [line.split() for line in marker.read_text().splitlines()]
    assert len(lines) == 4
    for folder, big, notes in lines:
        assert Path(folder) != project.resolve()  # the copy, not the user's folder
        assert str(cluster["temp"]) in folder and "working_dir_files" in folder, folder
        assert (big, notes) == ("False", "True")  # .rayignore honoured; other files sent
    assert len(set(_trial_nodes(uri, "shipped"))) == 2  # on the head and on the worker node


def test_a_code_folder_too_big_to_send_exits_2_naming_it_before_writing(cluster, tmp_path):
    """Ray refuses a folder above its upload limit (512 MiB; lowered here to 1 MiB for the
    master, as ``RAY_max_grpc_message_size`` allows): exit 2 naming the folder and the remedy,
    nothing written to MLflow."""
    project = _user_project(tmp_path, big_mib=2)
    db = tmp_path / "mlflow.db"
    env = {**cluster["joined"], "RAY_max_grpc_message_size": str(2**20)}
    refused = _sweepforge(["run", str(_user_campaign(project, tmp_path / "m.txt", "too-big")),
                           "--address", cluster["address"], "--tracking-uri", f"sqlite:///{db}"],
                          env, tmp_path)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    message = " ".join(refused.stderr.split())
    assert f"cannot send your code's folder {project.resolve()} to the Ray cluster" in message
    assert "exceeds the maximum size" in message and ".rayignore" in message
    assert "Traceback" not in refused.stderr and not db.exists()
