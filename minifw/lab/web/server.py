"""The lab's web server: the page, its JSON requests and each tab's live stream.

The standard library's ``ThreadingHTTPServer`` serves it, a thread a request:
the lab needs no dependency beyond minifw's own, so ``minifw lab`` works after
``pip install``. Frames go to the page as Server-Sent Events (one long GET the
browser's ``EventSource`` keeps open and reconnects), which is all a one-way
live stream needs; the page's changes come back as small JSON POSTs.

Security, as Jupyter does it: the server listens on 127.0.0.1; every request,
the stream included, must carry the random token of the printed address (in
the query, or in the cookie the page gets from it); a request whose Host is
not this server (DNS rebinding) or whose Origin is another site is refused,
and so is a POST that is not JSON (a plain HTML form from another site). The
page can set only the controls of ``minifw.lab.web.controls``; plugins come
from the command line alone.
"""

from __future__ import annotations

import contextlib
import errno
import hmac
import json
import secrets
import sys
import threading
import time
from collections.abc import Iterator
from http import HTTPStatus
from http.cookies import SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import attrs

from ...core.errors import ConfigError, LedgerError, MinifwError
from ...core.registry import load_plugins
from ...run.config import SETTINGS, RunConfig, command_line
from ...run.resolve import resolve
from ..sweeps import BASE_SETTINGS
from .controls import LAB_OWN, LIMITS, controls, target_curve
from .session import LabSession

STATIC = Path(__file__).parent / "static"
MAX_BODY = 64 * 1024  # bytes in a request: a page's settings are a few hundred
MAX_SESSIONS = 8  # tabs training at once
HEARTBEAT = 1.0  # seconds between pings on a quiet stream; a closed tab is found by the next
ORPHAN_SECONDS = 15.0  # a session whose page never opened its stream is closed after this
# uPlot sizes its parts with style attributes, hence inline styles; the favicon is data:.
_POLICY = "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:"
_TYPES = {".html": "text/html", ".js": "text/javascript", ".css": "text/css", ".txt": "text/plain"}


class LabServer(ThreadingHTTPServer):
    """The lab on ``127.0.0.1:port`` (0: any free port), its token, its sessions by id."""

    daemon_threads = True  # a stream left open never keeps the process alive

    def __init__(
        self,
        port: int = 0,
        *,
        plugins: tuple[str, ...] = (),
        runs_dir: str = "runs",
        host: str = "127.0.0.1",
    ) -> None:
        load_plugins(plugins)  # before the first page asks which components there are
        self.base = RunConfig(plugins=plugins, runs_dir=runs_dir, record=False, progress=False)
        self.token = secrets.token_urlsafe(24)
        self.sessions: dict[str, LabSession] = {}
        self.lock = threading.Lock()
        super().__init__((host, port), LabHandler)
        self.port = self.server_address[1]
        names = (host, "localhost", "127.0.0.1")
        self.hosts = {f"{name}:{self.port}" for name in names}
        self.origins = {f"http://{h}" for h in self.hosts}
        self.cookie = f"minifw_lab_{self.port}"  # cookies ignore ports: one per server
        self._closing = threading.Event()
        self._reaper = threading.Thread(target=self._reap, daemon=True)
        self._reaper.start()

    @property
    def url(self) -> str:
        """The address to open, with the token."""
        return f"http://127.0.0.1:{self.port}/?token={self.token}"

    def new_session(self) -> LabSession:
        with self.lock:
            if len(self.sessions) >= MAX_SESSIONS:
                raise ConfigError(
                    f"{MAX_SESSIONS} tabs are training already; close one to open another"
                )
            session = LabSession(secrets.token_urlsafe(12), self.base)
            self.sessions[session.id] = session
            return session

    def session(self, session_id: Any) -> LabSession:
        with self.lock:
            session = self.sessions.get(session_id) if isinstance(session_id, str) else None
        if session is None:
            raise ConfigError("no such session: it was closed (reload the page)")
        return session

    def end_session(self, session: LabSession) -> None:
        """Stop a session's training and forget it."""
        session.close()
        with self.lock:
            self.sessions.pop(session.id, None)

    def _reap(self) -> None:
        """Close the sessions whose page has no stream open: a tab closed before its stream
        opened, or one whose stream ended without the server noticing."""
        while not self._closing.wait(1.0):
            now = time.monotonic()
            with self.lock:
                idle = [
                    s
                    for s in self.sessions.values()
                    if s.streams == 0 and now - s.last_seen > ORPHAN_SECONDS
                ]
            for session in idle:
                self.end_session(session)

    def close_all(self) -> None:
        """Stop every session and the reaper, and close the socket."""
        self._closing.set()
        for session in list(self.sessions.values()):
            self.end_session(session)
        self.server_close()

    @contextlib.contextmanager
    def running(self, poll_interval: float = 0.05) -> Iterator[LabServer]:
        """Serve from a background thread while the ``with`` block runs (tests and
        benchmarks); on leaving it, stop serving, end every session and close the socket."""
        thread = threading.Thread(target=self.serve_forever, args=(poll_interval,))
        thread.start()
        try:
            yield self
        finally:
            self.shutdown()
            self.close_all()
            thread.join()


class LabHandler(BaseHTTPRequestHandler):
    """One request: checked (host, origin, token), then routed."""

    server: LabServer
    server_version = "minifw-lab"

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the terminal shows the address and errors, not every request."""

    # Checks ------------------------------------------------------------------------

    def _refusal(self) -> str | None:
        """Why this request is refused, or None."""
        server = self.server
        if self.headers.get("Host") not in server.hosts:
            return "wrong Host: the lab answers only at the address it printed"
        origin = self.headers.get("Origin")
        if origin is not None and origin not in server.origins:
            return f"requests from {origin} are refused: the lab answers only its own page"
        given = parse_qs(urlsplit(self.path).query).get("token", [""])[0]
        if not given:
            cookie = SimpleCookie(self.headers.get("Cookie", ""))
            given = cookie[server.cookie].value if server.cookie in cookie else ""
        if not hmac.compare_digest(given.encode(), server.token.encode()):
            return "missing or wrong token: open the address `minifw lab` printed"
        return None

    # Responses ---------------------------------------------------------------------

    def _send(
        self, status: int, body: bytes, kind: str, headers: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("X-Frame-Options", "DENY")
        # The page runs only its own files: no inline script, nothing from elsewhere.
        self.send_header("Content-Security-Policy", _POLICY)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def _json(self, data: Any, status: int = 200) -> None:
        self._send(status, json.dumps(data).encode(), "application/json")

    def _error(self, status: int, message: str) -> None:
        self._json({"error": message}, status)

    # Routes ------------------------------------------------------------------------

    def do_GET(self) -> None:
        self._handle(self._get)

    def do_POST(self) -> None:
        self._handle(self._post)

    def _handle(self, route: Any) -> None:
        """Check, route, and answer any failure with a message: the server keeps serving."""
        refused = self._refusal()
        if refused:
            self._error(HTTPStatus.FORBIDDEN, refused)
            return
        try:
            route(urlsplit(self.path))
        except (ConfigError, LedgerError, MinifwError) as error:
            self._error(HTTPStatus.BAD_REQUEST, str(error))
        except (BrokenPipeError, ConnectionResetError):
            pass  # the page went away mid-answer
        except Exception as error:  # a bug is one page's error, never the server's end
            print(f"minifw lab: {type(error).__name__}: {error}", file=sys.stderr)
            self._error(HTTPStatus.INTERNAL_SERVER_ERROR, f"{type(error).__name__}: {error}")

    def _get(self, url: Any) -> None:
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        if url.path == "/":
            cookie = f"{self.server.cookie}={self.server.token}; Path=/; HttpOnly; SameSite=Strict"
            page = (STATIC / "index.html").read_bytes()
            self._send(200, page, "text/html; charset=utf-8", {"Set-Cookie": cookie})
        elif url.path.startswith("/static/"):
            name = url.path.removeprefix("/static/")
            files = {p.name: p for p in STATIC.iterdir()}  # only the files shipped, by name
            if name not in files:
                self._error(HTTPStatus.NOT_FOUND, f"no file {name!r}")
                return
            kind = _TYPES.get(files[name].suffix, "application/octet-stream")
            self._send(200, files[name].read_bytes(), kind)
        elif url.path == "/api/controls":
            self._json(
                {"controls": controls(), "limits": LIMITS, "plugins": self.server.base.plugins}
            )
        elif url.path == "/api/stream":
            self._stream(self.server.session(query.get("session")))
        elif url.path.startswith("/api/download/"):
            what = url.path.removeprefix("/api/download/")
            run = self.server.session(query.get("session")).run
            if run is None:
                raise ConfigError("nothing to download yet")
            with run.lock:
                body, kind = run.files(what)
            disposition = {"Content-Disposition": f'attachment; filename="minifw-lab-{what}"'}
            self._send(200, body, kind, disposition)
        else:
            self._error(HTTPStatus.NOT_FOUND, f"no page {url.path!r}")

    def _read_json(self) -> dict[str, Any]:
        if self.headers.get("Content-Type", "").split(";")[0].strip() != "application/json":
            raise ConfigError("expected a JSON request (Content-Type: application/json)")
        try:
            length = int(self.headers.get("Content-Length", "0"))
        except ValueError:
            raise ConfigError("Content-Length must be a number") from None
        if not 0 <= length <= MAX_BODY:
            raise ConfigError(f"a request may hold at most {MAX_BODY} bytes; this one {length}")
        try:
            data = json.loads(self.rfile.read(length) or b"{}")
        except (ValueError, UnicodeDecodeError) as error:
            raise ConfigError(f"the request is not JSON: {error}") from None
        if not isinstance(data, dict):
            raise ConfigError("expected a JSON object")
        return data

    def _post(self, url: Any) -> None:
        data = self._read_json()
        server = self.server
        if url.path == "/api/session":
            session = server.new_session()
            problems = session.apply(data.get("values", {}), data.get("seeds", 1))
            self._json({"session": session.id, "errors": problems, **_described(session)})
        elif url.path == "/api/apply":
            session = server.session(data.get("session"))
            problems = session.apply(data.get("values", {}), data.get("seeds", 1))
            self._json({"errors": problems, **_described(session)}, 400 if problems else 200)
        elif url.path == "/api/target":
            curve = target_curve(data.get("text"), data.get("domain", ""))
            self._json(curve, 400 if "error" in curve else 200)
        elif url.path == "/api/control":
            server.session(data.get("session")).control(data.get("action"))
            self._json({"ok": True})
        elif url.path == "/api/pin":
            self._json(server.session(data.get("session")).pin(server.base.runs_dir))
        elif url.path == "/api/unpin":
            self._json(server.session(data.get("session")).unpin(data.get("index")))
        else:
            self._error(HTTPStatus.NOT_FOUND, f"no request {url.path!r}")

    def _stream(self, session: LabSession) -> None:
        """Send the session's newest frame whenever there is one, a ping when there is none;
        when the page is gone (the write fails), stop its training."""
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        session.streams += 1
        sent = 0
        try:
            while not session.closed:
                latest = session.wait_frame(sent, HEARTBEAT)
                if latest is None:
                    self.wfile.write(b": ping\n\n")
                else:
                    sent, frame = latest
                    self.wfile.write(b"data: " + json.dumps(frame).encode() + b"\n\n")
                self.wfile.flush()
                session.last_seen = time.monotonic()
        except OSError:  # the tab was closed or reloaded
            pass
        finally:
            session.streams -= 1
            if session.streams == 0:
                self.server.end_session(session)


def _described(session: LabSession) -> dict[str, Any]:
    """What the page shows beside the charts: the command line, the notes, the pins."""
    run = session.run
    if run is None:
        return {"command": "", "notes": [], "pins": session.pin_table()}
    resolved = resolve(run.config)
    return {
        "command": command(run.config, run.seeds),
        "notes": list(resolved.notes),
        "pins": session.pin_table(),
    }


def command(config: RunConfig, seeds: int) -> str:
    """The command that trains what the page trains: ``minifw train`` for one seed; for
    several, ``minifw sweep``, whose seeds the lab draws as it does from the seed setting."""
    default = RunConfig()
    if seeds == 1:  # not the lab's own settings (the ledger, no progress bar), but plugins
        kept = [name for name in SETTINGS if name not in LAB_OWN or name == "plugins"]
        program = "minifw train"
    else:
        kept, program = BASE_SETTINGS, "minifw sweep"
    typed = attrs.evolve(default, **{name: getattr(config, name) for name in kept})
    line = command_line(typed, program)
    return line if seeds == 1 else f"{line} --seeds {seeds} --sweep-seed {config.seed}"


def serve(
    port: int,
    *,
    open_browser: bool = True,
    plugins: tuple[str, ...] = (),
    runs_dir: str = "runs",
    any_port_if_taken: bool = False,
) -> int:
    """Run the lab until Ctrl-C; print its address; open it in the browser unless told not.
    With ``any_port_if_taken``, a port in use (another lab's, say) gives way to a free one."""
    try:
        server = LabServer(port, plugins=plugins, runs_dir=runs_dir)
    except OSError as error:
        if not any_port_if_taken or error.errno != errno.EADDRINUSE:
            raise
        server = LabServer(0, plugins=plugins, runs_dir=runs_dir)
    print(f"minifw lab at {server.url}  (Ctrl-C stops it)", flush=True)
    if open_browser:
        import webbrowser

        webbrowser.open(server.url)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        # On a terminal the line starts after the ^C the terminal echoed.
        print(f"{chr(10) * sys.stdout.isatty()}minifw lab stopped.")
    finally:
        server.close_all()
    return 0
