"""The live dashboard: a small HTTP server on 127.0.0.1 that re-reads MLflow while campaigns run.

The page lists the store's campaigns and shows the same views as the report; every few seconds
it fetches a fresh payload and redraws in place. plotly.js comes from the installed plotly
package, so no network is needed. Example:

    >>> from sweepforge.dashboards import serve
    >>> serve("sqlite:///mlflow.db", port=8050)  # doctest: +SKIP
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

from ._importance import Importance, importance
from ._page import live_page, plotly_js
from ._payload import build_payload, payload_json
from ._store import DashboardError, list_campaigns, load_campaign, metric_histories, open_store

DEFAULT_PORT = 8050
REFRESH_S = 5.0
_log = logging.getLogger(__name__)


class Dashboard:
    """The data side of the server: the campaign list, and each campaign's payload, rebuilt at
    most once per ``refresh_s`` whatever the number of open pages."""

    def __init__(self, tracking_uri: str, refresh_s: float = REFRESH_S):
        self.tracking_uri = tracking_uri
        self.refresh_s = refresh_s
        self.client = open_store(tracking_uri)
        self._lock = threading.Lock()
        self._payloads: dict[str, tuple[float, str, float]] = {}  # built at, JSON, seconds
        self._importance: dict[Any, Importance] = {}

    def campaigns(self) -> str:
        entries = list_campaigns(self.client)
        return json.dumps(
            {
                "tracking_uri": self.tracking_uri,
                "campaigns": [
                    {
                        "name": e.name,
                        "status": e.status,
                        "started": e.started.tz_convert(None).strftime("%Y-%m-%d %H:%M"),
                    }
                    for e in entries
                ],
            }
        )

    def payload(self, name: str) -> str:
        """The campaign's payload as JSON; rebuilt when older than ``refresh_s``, or than twice
        the time the last build took (a 10,000-trial campaign takes seconds to read)."""
        with self._lock:
            built = self._payloads.get(name)
            if built is None or time.monotonic() - built[0] >= max(self.refresh_s, 2 * built[2]):
                started = time.monotonic()
                rows = load_campaign(self.client, name, self.tracking_uri)
                payload = build_payload(
                    rows,
                    lambda ids, metric: metric_histories(self.client, ids, metric),
                    importance_fn=self._cached_importance,
                )
                built = (time.monotonic(), payload_json(payload), time.monotonic() - started)
                self._payloads[name] = built
            return built[1]

    def _cached_importance(self, trials: Any, specs: Any, mode: str) -> Importance:
        """fANOVA takes seconds on large campaigns: recompute only when the trials changed."""
        key = (tuple(trials["run_id"]), tuple(trials["value"].fillna(-1e300)), mode)
        if key not in self._importance:
            self._importance = {key: importance(trials, specs, mode)}  # keep only the latest
        return self._importance[key]


def make_server(
    tracking_uri: str,
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
    name: str | None = None,
    refresh_s: float = REFRESH_S,
) -> ThreadingHTTPServer:
    """The HTTP server, bound but not yet serving (``port=0`` picks a free port).

    Raises:
        DashboardError: the store does not exist or cannot be reached.
    """
    dashboard = Dashboard(tracking_uri, refresh_s)
    handler = _handler(dashboard, name, refresh_s)
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    return server


def serve(
    tracking_uri: str,
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
    name: str | None = None,
    *,
    refresh_s: float = REFRESH_S,
    on_ready: Callable[[str], None] | None = None,
) -> None:
    """Serves the live dashboard until Ctrl-C; ``name`` is the campaign shown first (default:
    the most recently started). ``on_ready(url)`` is called once the port is bound."""
    server = make_server(tracking_uri, host, port, name, refresh_s)
    url = f"http://{host}:{server.server_address[1]}/"
    if on_ready is not None:
        on_ready(url)
    try:
        server.serve_forever(poll_interval=0.5)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


def _handler(
    dashboard: Dashboard, name: str | None, refresh_s: float
) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # the http.server API names it so
            url = urlparse(self.path)
            query = parse_qs(url.query)
            if url.path == "/":
                chosen = query.get("campaign", [name])[0]
                self._send(200, "text/html", live_page(chosen, refresh_s))
            elif url.path == "/plotly.min.js":
                self._send(200, "application/javascript", plotly_js(), cache=True)
            elif url.path == "/api/campaigns":
                self._json(dashboard.campaigns)
            elif url.path == "/api/payload" and query.get("campaign"):
                self._json(lambda: dashboard.payload(query["campaign"][0]))
            else:
                self._send(404, "text/plain", "not found")

        def _json(self, build: Callable[[], str]) -> None:
            try:
                body = build()
            except DashboardError as err:
                body = json.dumps({"error": str(err)})
            except Exception as err:  # noqa: BLE001  (say so on the page, keep serving)
                _log.exception("dashboard: reading the store failed")
                body = json.dumps({"error": f"reading {dashboard.tracking_uri} failed: {err}"})
            self._send(200, "application/json", body)

        def _send(self, code: int, kind: str, body: str, cache: bool = False) -> None:
            data = body.encode("utf-8")
            self.send_response(code)
            self.send_header("Content-Type", f"{kind}; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Cache-Control", "max-age=3600" if cache else "no-store")
            self.end_headers()
            try:
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the page was closed or reloaded meanwhile

        def log_message(self, format: str, *args: Any) -> None:
            pass  # one local user: no access log on the terminal

    return Handler
