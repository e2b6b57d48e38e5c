"""Hostile or broken input: YAML that would run code, names that would write outside the
store, a checkpoint or a spool that would unpickle code, and servers that must not listen beyond
this machine unless told to."""

from __future__ import annotations

import os
import pickle
import re
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
from sweepforge.search.plan import plan_campaign
from sweepforge.search.state.journal import Journal
from sweepforge.search.state.spool import Spool, spool_path
from sweepforge.search.tracking.tracker import replay_spool
from sweepforge.trainables.checkpoint import CHECKPOINT_FILE, DirectoryCheckpointer, load_state_file
from tests.conftest import small_campaign

runner = CliRunner()

CODE_TAGS = [
    "!!python/object/apply:os.system ['touch {marker}']",
    "!!python/object/new:subprocess.Popen [['touch', '{marker}']]",
    "!!python/name:os.system",
]


@pytest.mark.parametrize("tag", CODE_TAGS)
def test_yaml_that_would_run_code_is_refused_and_nothing_starts(tag, bare_workdir, write_campaign):
    import ray

    marker = bare_workdir.cwd / "pwned"
    campaign = yaml.safe_dump(small_campaign(name="tagged"), sort_keys=False)
    write_campaign(campaign.replace("seed: 0", "seed: " + tag.format(marker=marker)))
    result = runner.invoke(app, ["run", "campaign.yaml", "--no-progress"])
    assert result.exit_code == 2, result.output
    assert "not valid YAML" in result.output and "python/" in result.output
    assert not marker.exists()  # the tag's code never ran
    bare_workdir.assert_nothing_written("campaign.yaml")  # no store, no state, no spool
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


@pytest.mark.parametrize("name", ["../evil", "/etc/passwd", "..", "a/b"])
def test_the_command_line_refuses_a_campaign_name_that_is_a_path(name, bare_workdir,
                                                                  write_campaign):
    write_campaign(small_campaign(name=name))
    result = runner.invoke(app, ["run", "campaign.yaml", "--no-progress"])
    assert result.exit_code == 2, result.output
    assert "name: must start with a letter or digit" in result.output
    assert f"(got {name!r})" in result.output
    bare_workdir.assert_nothing_written("campaign.yaml")


@pytest.mark.parametrize("name", ["../grid", "/abs", ".."])
def test_the_command_line_refuses_a_strategy_name_that_is_a_path(name, bare_workdir,
                                                                  write_campaign):
    write_campaign(small_campaign(strategies={name: {"kind": "random"}}))
    result = runner.invoke(app, ["run", "campaign.yaml", "--no-progress"])
    assert result.exit_code == 2, result.output
    assert f"strategy name {name!r} must hold only letters, digits" in result.output
    bare_workdir.assert_nothing_written("campaign.yaml")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["../x"], "campaign name '../x': only letters, digits"),
        (["..", "--campaign-id", "0123456789ab"], "campaign name '..': only letters, digits"),
        (["ok", "--campaign-id", "../../x"],
         "campaign id '../../x': must be 12 hexadecimal digits"),
    ],
)
def test_the_command_line_refuses_to_resume_a_path(args, message, bare_workdir):
    import ray

    result = runner.invoke(app, ["resume", *args, "--no-progress"])
    assert result.exit_code == 2, result.output
    assert message in result.output
    bare_workdir.assert_nothing_written()
    assert not ray.is_initialized()


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


class _Pwn:
    """Unpickled, it creates the file ``marker``."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


@pytest.mark.parametrize("protocol", [0, pickle.HIGHEST_PROTOCOL])  # 0 is ASCII, the others binary
def test_a_spool_that_would_run_code_is_refused(protocol, tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "0123456789ab.jsonl"
    path.write_bytes(pickle.dumps(_Pwn(marker), protocol=protocol))
    refused = f"^{re.escape(str(path))} is not a sweepforge spool file"
    with pytest.raises(ValueError, match=refused):
        Spool.load(path)
    with pytest.raises(ValueError, match=refused):
        replay_spool(path, f"sqlite:///{tmp_path / 'mlflow.db'}")
    assert not marker.exists()  # never unpickled
    assert path.read_bytes() == pickle.dumps(_Pwn(marker), protocol=protocol)  # left as it was
    assert not (tmp_path / "mlflow.db").exists()


@pytest.mark.slow
def test_resume_of_a_campaign_whose_spool_would_run_code_is_refused(tmp_path):
    """`sweepforge resume NAME` reads the spool the killed master left: pickled bytes there are
    refused (exit 2, naming the file) before Ray starts or anything is written, never
    unpickled, and the file is kept."""
    import ray

    config = parse_campaign_config(small_campaign(name="spooled", strategies={"random": {}}))
    state_dir, campaign_id = tmp_path / "state", "0123456789ab"
    Journal.create(state_dir / "campaigns" / "spooled" / campaign_id, campaign_id=campaign_id,
                   name="spooled", config=config.model_dump(mode="json"),
                   strategies=list(plan_campaign(config).strategies)).close()
    marker, spool = tmp_path / "pwned", state_dir / "spool" / f"{campaign_id}.jsonl"
    spool.parent.mkdir()
    spool.write_bytes(pickle.dumps(_Pwn(marker)))
    journal = next(state_dir.rglob("journal.jsonl"))
    before = journal.read_bytes()

    result = runner.invoke(app, ["resume", "spooled", "--state-dir", str(state_dir),
                                 "--tracking-uri", f"sqlite:///{tmp_path / 'mlflow.db'}",
                                 "--no-progress", "--no-report"])
    assert result.exit_code == 2, (result.output, result.exception)
    message = " ".join(result.output.split())
    assert f"{spool} is not a sweepforge spool file" in message and "Refusing to resume" in message
    assert not marker.exists()
    assert spool.read_bytes() == pickle.dumps(_Pwn(marker))
    # refused before anything started: no Ray, no store, no new session in the journal
    assert not ray.is_initialized() and not (tmp_path / "mlflow.db").exists()
    assert journal.read_bytes() == before


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
