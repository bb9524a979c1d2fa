"""A threaded stdlib HTTP server that hands each request to an emulator's handler.

``EmulatorServer(handler).start()`` binds 127.0.0.1 (port 0 = any free port) in a daemon thread and
returns the base URL (``http://127.0.0.1:PORT``); ``stop()`` shuts it down and wakes held requests.
``handler`` is any ``Callable[[Request], Response]``; it runs on the server's worker threads, one per
connection, so it must be thread-safe. An exception in it becomes a 500 JSON answer (logged with its
type only) and never takes the server down.

Per request, in order:

1. ``GET /_emulator/<name>`` for a name in ``admin_routes`` (plus the built-in ``requests`` and
   ``faults``) answers JSON at once: no fault, no latency, not logged.
2. The fault plan is drawn (``emulators.common.faults``): ``status`` answers now, ``timeout`` holds
   then closes, ``slow`` and ``drop_after_apply`` go on.
3. ``handler(request)`` runs.
4. ``latency`` (seconds, settable any time) plus a ``slow`` fault's delay are slept. Delays sit after
   the handler on purpose: until the answer is written the request is "in flight", so an emulator
   that tracks in-flight requests (ended in ``Response.on_sent``) sees delayed requests overlap.
5. ``Response.on_sent`` callbacks run and the request is logged, *then* the answer is written (or,
   for ``drop_after_apply``, the connection is closed without one): a client that has the answer
   finds the request finished and logged.

Public API: ``Request``, ``Response``, ``EmulatorServer`` (``start``, ``stop``, ``base_url``,
``latency``, ``fault_plan``, ``request_log``).
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from emulators.common.faults import FaultKind, FaultPlan, FaultRule
from emulators.common.request_log import LoggedRequest, RequestLog, json_body_or_none, redact_headers

logger = logging.getLogger(__name__)

ADMIN_PREFIX = "/_emulator/"
MAX_BODY_BYTES = 20 * 1024 * 1024
# A keep-alive connection idle this long is closed, as real servers do. Each open connection holds a
# server thread and a descriptor: per-tenant clients in 20 warm workers (make bench part 4) kept one
# per tenant per worker open (1,100 threads at 100 tenants; 40,000 at 1,000 was past the fd limit).
# httpx sees the close and connects again on its next request.
IDLE_CONNECTION_SECONDS = 10.0


@dataclass
class Request:
    """One parsed request. ``headers`` keeps the sender's spelling; use ``header()`` to look up."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    base_url: str
    raw_query: str = ""

    def header(self, name: str, default: str | None = None) -> str | None:
        wanted = name.lower()
        for key, value in self.headers.items():
            if key.lower() == wanted:
                return value
        return default

    @property
    def content_type(self) -> str:
        return (self.header("Content-Type") or "").lower()

    @property
    def url(self) -> str:
        return f"{self.base_url}{self.path}" + (f"?{self.raw_query}" if self.raw_query else "")

    def query_value(self, name: str) -> str | None:
        """The first value of query parameter ``name``."""
        values = self.query.get(name)
        return values[0] if values else None

    def json(self) -> Any:
        """The body parsed as JSON; raises ``ValueError`` when it is not JSON."""
        return json.loads(self.body or b"null")


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    # Run just before the answer is written (or dropped); e.g. to end an emulator's "in flight" window.
    on_sent: list[Callable[[], None]] = field(default_factory=list)

    @classmethod
    def json(cls, status: int, payload: Any, headers: Mapping[str, str] | None = None) -> Response:
        return cls(
            status, json.dumps(payload).encode(), {"Content-Type": "application/json", **(headers or {})}
        )

    @classmethod
    def empty(cls, status: int, headers: Mapping[str, str] | None = None) -> Response:
        return cls(status, b"", dict(headers or {}))

    @classmethod
    def text(
        cls,
        status: int,
        text: str,
        content_type: str = "text/plain; charset=utf-8",
        headers: Mapping[str, str] | None = None,
    ) -> Response:
        return cls(status, text.encode(), {"Content-Type": content_type, **(headers or {})})


Handler = Callable[[Request], Response]


class EmulatorServer:
    def __init__(
        self,
        handler: Handler,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        fault_plan: FaultPlan | None = None,
        request_log: RequestLog | None = None,
        latency: float = 0.0,
        admin_routes: Mapping[str, Callable[[], Any]] | None = None,
        name: str = "emulator",
    ) -> None:
        self.handler = handler
        self.host = host
        self.port = port
        self.fault_plan = fault_plan if fault_plan is not None else FaultPlan()
        self.request_log = request_log if request_log is not None else RequestLog()
        self.latency = latency
        self.name = name
        self.admin_routes: dict[str, Callable[[], Any]] = {
            "requests": lambda: [entry.to_dict() for entry in self.request_log.entries()],
            "faults": self.fault_plan.fired,
            **(admin_routes or {}),
        }
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self.base_url = ""

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> str:
        if self._httpd is not None:
            return self.base_url
        self._stopping.clear()
        httpd = ThreadingHTTPServer((self.host, self.port), _make_request_handler(self))
        httpd.daemon_threads = True
        self._httpd = httpd
        host, port = httpd.server_address[:2]
        self.port = int(port)
        self.base_url = f"http://{host}:{self.port}"
        self._thread = threading.Thread(
            target=httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"{self.name}-server",
            daemon=True,
        )
        self._thread.start()
        return self.base_url

    def stop(self) -> None:
        self._stopping.set()  # wakes requests held by timeout/slow faults
        httpd, self._httpd = self._httpd, None
        if httpd is not None:
            httpd.shutdown()
            httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> EmulatorServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def sleep(self, seconds: float) -> None:
        """Sleep unless the server is stopping (so ``stop()`` never waits on a held request)."""
        if seconds > 0:
            self._stopping.wait(seconds)

    # -- one request ------------------------------------------------------------------------------

    def serve(self, request: Request) -> tuple[Response | None, LoggedRequest]:
        """Run the pipeline of the module docstring; ``None`` means close without answering."""
        entry = LoggedRequest(
            method=request.method,
            path=request.path,
            query=request.query,
            headers=redact_headers(request.headers),
            json=json_body_or_none(request.content_type, request.body),
            body_size=len(request.body),
            started_at=time.time(),
        )
        rule: FaultRule | None = self.fault_plan.draw(request.method, request.path)
        if rule is not None:
            entry.fault = rule.kind.value
        if rule is not None and rule.kind is FaultKind.STATUS:
            body, content_type = rule.body_bytes()
            return Response(rule.status, body, {"Content-Type": content_type, **rule.headers}), entry
        if rule is not None and rule.kind is FaultKind.TIMEOUT:
            self.sleep(rule.seconds)
            entry.outcome = "timed_out"
            return None, entry
        try:
            response = self.handler(request)
        except Exception as exc:  # the server thread must survive any handler bug
            logger.exception("%s handler failed on %s %s", self.name, request.method, request.path)
            response = Response.json(500, {"message": f"emulator error: {type(exc).__name__}"})
        delay = self.latency + (rule.seconds if rule is not None and rule.kind is FaultKind.SLOW else 0.0)
        self.sleep(delay)
        if rule is not None and rule.kind is FaultKind.DROP_AFTER_APPLY:
            entry.outcome = "dropped"
            _run_callbacks(response)
            return None, entry
        return response, entry

    def admin_answer(self, path: str) -> Response:
        name = path[len(ADMIN_PREFIX) :].strip("/")
        producer = self.admin_routes.get(name)
        if producer is None:
            return Response.json(
                404, {"message": f"no admin route {name!r}", "routes": sorted(self.admin_routes)}
            )
        return Response(
            200, json.dumps(producer(), default=str).encode(), {"Content-Type": "application/json"}
        )


def _run_callbacks(response: Response) -> None:
    for callback in response.on_sent:
        try:
            callback()
        except Exception:
            logger.exception("on_sent callback failed")


def _make_request_handler(server: EmulatorServer) -> type[BaseHTTPRequestHandler]:
    class _RequestHandler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out in two writes; with Nagle on, keep-alive clients wait ~40 ms for
        # the delayed ACK on every answer.
        disable_nagle_algorithm = True
        server_version = f"{server.name}/1"
        timeout = IDLE_CONNECTION_SECONDS  # socket timeout: ends idle keep-alive connections

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
            logger.debug("%s: " + format, server.name, *args)

        def _read_body(self) -> bytes:
            if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
                chunks = []
                while True:
                    size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                    if size == 0:
                        self.rfile.readline()
                        break
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()
                return b"".join(chunks)
            length = int(self.headers.get("Content-Length") or 0)
            if length < 0 or length > MAX_BODY_BYTES:
                raise ValueError("bad Content-Length")
            return self.rfile.read(length) if length else b""

        def _handle(self) -> None:
            started = time.monotonic()
            split = urlsplit(self.path)
            try:
                body = self._read_body()
            except ValueError:
                self._write(Response.json(400, {"message": "Unreadable request body"}))
                return
            request = Request(
                method=self.command.upper(),
                path=split.path or "/",
                query=parse_qs(split.query, keep_blank_values=True),
                headers={key: value for key, value in self.headers.items()},
                body=body,
                base_url=server.base_url,
                raw_query=split.query,
            )
            if request.method == "GET" and request.path.startswith(ADMIN_PREFIX):
                self._write(server.admin_answer(request.path))
                return
            response, entry = server.serve(request)
            # Log and end "in flight" before the bytes leave: a client that reads the answer and at once
            # looks at the log, or sends its next request, must find this one finished.
            entry.status = response.status if response is not None else None
            entry.duration = time.monotonic() - started
            if response is not None:
                _run_callbacks(response)
            server.request_log.append(entry)
            if response is None:
                self._drop()
            else:
                self._write(response)

        def _write(self, response: Response) -> None:
            try:
                self.send_response(response.status)
                for name, value in response.headers.items():
                    if name.lower() != "content-length":
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(response.body)))
                self.end_headers()
                if response.body and self.command != "HEAD":
                    self.wfile.write(response.body)
                self.wfile.flush()
            except OSError:
                self.close_connection = True  # client went away; nothing to do

        def _drop(self) -> None:
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _handle

    return _RequestHandler
