"""The local Ray a campaign starts has no dashboard: no HTTP server on Ray's dashboard port (nor
its Jobs API, which the dashboard serves), no dashboard URL, and no Ray client server.

This module starts Ray only through the campaign's own :func:`ray_session`, never through the
``ray_local`` fixture (which passes ``include_dashboard=False`` itself)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sweepforge.search.config import parse_campaign_config
from sweepforge.search.tune.ray_setup import ray_session
from tests.conftest import small_campaign

RAY_DASHBOARD_PORT = 8265  # Ray's default; it also serves the Jobs API
RAY_CLIENT_PORT = 10001


def _descendants(pid: int) -> set[int]:
    """Every process below ``pid`` (the campaign's Ray: GCS, raylet, dashboard head, workers)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):  # not a process, or one that just ended
            continue
        children.setdefault(int(fields[1]), []).append(int(entry.name))  # fields[1]: the parent
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def _listening_ports(pids: set[int]) -> set[int]:
    """TCP ports (IPv4 and IPv6) on which one of ``pids`` listens, from /proc."""
    listening: dict[str, int] = {}  # socket inode -> port
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A":  # LISTEN
                listening[fields[9]] = int(fields[1].rsplit(":", 1)[1], 16)
    ports = set()
    for pid in pids:
        try:
            links = [os.readlink(fd) for fd in Path(f"/proc/{pid}/fd").iterdir()]
        except OSError:  # ended meanwhile
            continue
        ports.update(listening[link[8:-1]] for link in links
                     if link.startswith("socket:[") and link[8:-1] in listening)
    return ports


def _command_line(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return []


@pytest.mark.slow
def test_the_campaigns_own_ray_has_no_dashboard():
    import ray
    from ray._private import worker  # private: the node this process started (test only)

    if not Path("/proc/net/tcp").exists():
        pytest.skip("needs Linux /proc")
    if ray.is_initialized():  # another module's Ray: ray_session would use it, not start one
        ray.shutdown()
    with ray_session(None, parse_campaign_config(small_campaign())):
        node = worker._global_node
        assert node is not None and node.head  # the campaign started a local Ray of its own
        assert node._ray_params.include_dashboard is False  # even where ray[default] is installed
        assert not node.webui_url  # no dashboard URL
        processes = _descendants(os.getpid())
        heads = [cmd for cmd in map(_command_line, processes)
                 if any(part.endswith("dashboard/dashboard.py") for part in cmd)]
        assert all("--minimal" in cmd for cmd in heads), heads  # if Ray runs it: no HTTP server
        ports = _listening_ports(processes)
        gcs_port = int(node.gcs_address.rsplit(":", 1)[1])
        assert gcs_port in ports, (gcs_port, sorted(ports))  # the scan sees the campaign's Ray
        assert RAY_DASHBOARD_PORT not in ports and RAY_CLIENT_PORT not in ports, sorted(ports)
    assert not ray.is_initialized()
