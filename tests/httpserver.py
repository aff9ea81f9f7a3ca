"""A local HTTP server for download tests: files from a directory, with faults on demand.

Serves ``GET``/``HEAD`` for files under ``root`` (with ``Range: bytes=N-`` / ``N-M``
support) on 127.0.0.1 at a free port, in a thread, and records every request. Switches:

* ``drop_after = N``: the next file response sends its full ``Content-Length`` header but
  closes the connection after N body bytes (once; then the switch resets).
* ``ignore_range = True``: answer every file request with the whole file and 200.
* ``status = {"/path": 404}``: answer that path with that status.
* ``fail_next = [503, ...]``: answer the next requests (any path) with these statuses.
* ``mygene = {"SYMBOL": [hit, ...]}``: imitate MyGene.info's ``POST /v3/query`` batch
  endpoint: each comma-separated term of ``q`` gets its hits (``{"query": q, **hit}``),
  or ``{"query": q, "notfound": true}``.
* ``mygene_raw = obj``: answer that endpoint with ``obj`` as JSON instead (a broken API).

Use the ``http_server`` fixture::

    from tests.httpserver import http_server_fixture  # noqa: F401  (registers the fixture)

    def test_x(http_server):
        (http_server.root / "a.txt").write_text("hi")
        requests.get(http_server.url_for("a.txt"))
"""

from __future__ import annotations

import json
import re
import socket
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse

import pytest


@dataclass
class Request:
    """One request as the server saw it."""

    method: str
    path: str
    headers: dict[str, str]
    form: dict[str, str] | None = None


@dataclass
class LocalServer:
    """The server's content, switches and request log (see the module docstring)."""

    root: Path
    drop_after: int | None = None
    ignore_range: bool = False
    status: dict[str, int] = field(default_factory=dict)
    fail_next: list[int] = field(default_factory=list)
    mygene: dict[str, list[dict]] | None = None
    mygene_path: str = "/v3/query"
    mygene_raw: object = None
    requests: list[Request] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.root = Path(self.root)
        self.root.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._httpd is not None, "server not started"
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def url_for(self, name: str) -> str:
        return f"{self.url}/{name}"

    def start(self) -> LocalServer:
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(self))
        self._httpd.daemon_threads = True
        threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> LocalServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def record(self, request: Request) -> None:
        with self._lock:
            self.requests.append(request)

    def take_failure(self) -> int | None:
        with self._lock:
            return self.fail_next.pop(0) if self.fail_next else None

    def take_drop(self) -> int | None:
        with self._lock:
            drop, self.drop_after = self.drop_after, None
            return drop


def _make_handler(server: LocalServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format, *args) -> None:
            pass  # keep test output clean

        def do_HEAD(self) -> None:
            self._serve_file(head=True)

        def do_GET(self) -> None:
            self._serve_file(head=False)

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode()
            form = {k: v[-1] for k, v in parse_qs(body, keep_blank_values=True).items()}
            server.record(Request("POST", self._path(), dict(self.headers), form))
            if self._fail():
                return
            if self._path() != server.mygene_path:
                return self._status(404)
            if server.mygene_raw is not None:
                return self._send_json(server.mygene_raw)
            if server.mygene is None:
                return self._status(404)
            self._send_json(_mygene_answer(server.mygene, form))

        def _path(self) -> str:
            return unquote(urlparse(self.path).path)

        def _status(self, code: int) -> None:
            body = f"status {code}\n".encode()
            self.send_response(code)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _fail(self) -> bool:
            code = server.take_failure() or server.status.get(self._path())
            if code:
                self._status(code)
            return bool(code)

        def _send_json(self, data) -> None:
            body = json.dumps(data).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _serve_file(self, head: bool) -> None:
            server.record(Request(self.command, self._path(), dict(self.headers)))
            if self._fail():
                return
            file = (server.root / self._path().lstrip("/")).resolve()
            if not file.is_file() or server.root.resolve() not in file.parents:
                return self._status(404)
            data = file.read_bytes()
            start, end = 0, len(data) - 1
            m = re.fullmatch(r"bytes=(\d+)-(\d*)", self.headers.get("Range", "").strip())
            if m and not server.ignore_range:
                start = int(m.group(1))
                end = min(int(m.group(2)), end) if m.group(2) else end
                if start >= len(data):
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{len(data)}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{end}/{len(data)}")
            else:
                self.send_response(200)
            body = data[start : end + 1]
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Accept-Ranges", "bytes")
            self.end_headers()
            if head:
                return
            drop = server.take_drop()
            if drop is not None and drop < len(body):
                self.wfile.write(body[:drop])
                self.wfile.flush()
                # Abrupt close with the promised length unmet: the client sees a broken read.
                self.connection.shutdown(socket.SHUT_RDWR)
                self.close_connection = True
                return
            self.wfile.write(body)

    return Handler


def _mygene_answer(genes: dict[str, list[dict]], form: dict[str, str]) -> list[dict]:
    fields = [f for f in form.get("fields", "").split(",") if f]
    out = []
    for term in form.get("q", "").split(","):
        hits = genes.get(term)
        if not hits:
            out.append({"query": term, "notfound": True})
            continue
        for i, hit in enumerate(hits):
            kept = {k: v for k, v in hit.items() if not fields or k in fields}
            out.append({"query": term, "_id": hit.get("_id", f"{term}-{i}"), **kept})
    return out


@pytest.fixture(name="http_server")
def http_server_fixture(tmp_path) -> LocalServer:
    """A started :class:`LocalServer` serving ``tmp_path / "www"``; stopped after the test."""
    with LocalServer(tmp_path / "www") as server:
        yield server
