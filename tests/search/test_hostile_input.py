"""Hostile or broken input: YAML that would run code, names that would write outside the
store, a checkpoint that would unpickle code, and servers that must not listen beyond this
machine unless told to."""

from __future__ import annotations

import os
import pickle
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from sweepforge.search.cli import app
from sweepforge.search.config import CampaignError, parse_campaign_config
from sweepforge.search.state.spool import spool_path
from sweepforge.trainables.checkpoint import CHECKPOINT_FILE, DirectoryCheckpointer, load_state_file
from tests.conftest import small_campaign

CODE_TAGS = [
    "!!python/object/apply:os.system ['touch {marker}']",
    "!!python/object/new:subprocess.Popen [['touch', '{marker}']]",
    "!!python/name:os.system",
]


@pytest.mark.parametrize("tag", CODE_TAGS)
def test_yaml_that_would_run_code_is_refused_and_nothing_starts(tag, tmp_path, monkeypatch):
    import ray

    marker = tmp_path / "pwned"
    campaign = yaml.safe_dump(small_campaign(name="tagged"), sort_keys=False)
    (tmp_path / "campaign.yaml").write_text(
        campaign.replace("seed: 0", "seed: " + tag.format(marker=marker))
    )
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["run", "campaign.yaml", "--no-progress"])
    assert result.exit_code == 2, result.output
    assert "not valid YAML" in result.output and "python/" in result.output
    assert not marker.exists()  # the tag's code never ran
    assert sorted(p.name for p in tmp_path.iterdir()) == ["campaign.yaml"]  # no store, no state
    assert not ray.is_initialized()


BAD_NAMES = ["../evil", "a/b", "/etc/passwd", "..", ".hidden", "a\\b", "name with space", "x" * 101]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_a_campaign_name_that_is_a_path_is_refused(name):
    with pytest.raises(CampaignError, match="name"):
        parse_campaign_config(small_campaign(name=name))


@pytest.mark.parametrize("name", ["../grid", "a/b", "/abs", ".."])
def test_a_strategy_name_that_is_a_path_is_refused(name):
    with pytest.raises(CampaignError, match="strategy name"):
        parse_campaign_config(small_campaign(strategies={name: {"kind": "random"}}))


@pytest.mark.parametrize("name", ["../evil", "..", "a/b"])
def test_resume_by_a_name_that_is_a_path_is_refused(name, tmp_path):
    from sweepforge.search import Campaign

    with pytest.raises(CampaignError, match="name"):
        Campaign.resume(name, state_dir=tmp_path)


@pytest.mark.parametrize("name", ["../../etc/passwd", "/abs/path", "..", "a/../../b", "", "\x00x"])
def test_a_spool_file_stays_in_its_folder(name, tmp_path):
    path = spool_path(name, tmp_path)
    assert path.parent == tmp_path and path.name.endswith(".jsonl") and not path.name.startswith(".")


def test_a_checkpoint_that_would_run_code_is_refused(tmp_path):
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (open, (str(marker), "w"))  # would create the marker file when unpickled

    (tmp_path / CHECKPOINT_FILE).write_bytes(pickle.dumps({"format": 1, "model": Payload()}))
    with pytest.raises(pickle.UnpicklingError):
        DirectoryCheckpointer(tmp_path).load()
    with pytest.raises(pickle.UnpicklingError):  # the loader Ray workers use on a restore
        load_state_file(tmp_path / CHECKPOINT_FILE)
    assert not marker.exists()


def _listeners(port: int) -> set[str]:
    """Addresses listening on TCP ``port`` (IPv4 and IPv6), from /proc/net/tcp*."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.rsplit(":", 1)
            if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                if len(address) == 8:
                    found.add(socket.inet_ntop(socket.AF_INET, bytes.fromhex(address)[::-1]))
                else:
                    found.add("ipv6:" + address)
    return found


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.slow
@pytest.mark.parametrize("command", ["ui", "dashboard"])
def test_servers_listen_on_localhost_only_by_default(command, tmp_path):
    """``sweepforge ui`` and ``sweepforge dashboard``, started for real without ``--host``:
    the only listening socket on their port is 127.0.0.1's."""
    if not Path("/proc/net/tcp").exists():
        pytest.skip("needs Linux /proc/net/tcp")
    port = _free_port()
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    if command == "dashboard":  # the dashboard wants a campaign to show
        from sweepforge.search.schema import TAG_CAMPAIGN_ID, TAG_KIND
        from sweepforge.search.tracking.tracker import Tracker

        tracker = Tracker(store, "shown", spool=tmp_path / "spool.jsonl")
        tracker.end_run(tracker.start_run("shown-1", {TAG_KIND: "campaign", TAG_CAMPAIGN_ID: "a" * 12}))
    server = subprocess.Popen(
        [sys.executable, "-c", "from sweepforge.search.cli import main; main()", command,
         "--port", str(port), "--tracking-uri", store],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True, cwd=tmp_path,
    )
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and not _listeners(port):
            assert server.poll() is None, f"sweepforge {command} exited with {server.returncode}"
            time.sleep(0.5)
        time.sleep(1.0)  # let every worker bind
        assert _listeners(port) == {"127.0.0.1"}
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
