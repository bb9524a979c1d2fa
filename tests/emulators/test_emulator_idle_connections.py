"""The emulators close a keep-alive connection left idle, as real servers do (one thread per connection:
per-tenant clients in many warm workers would otherwise hold thousands open)."""

from __future__ import annotations

import socket
import time

import httpx
import pytest

from emulators.common import server as emulator_server
from emulators.common.server import EmulatorServer, Response


@pytest.fixture
def quick_idle(monkeypatch: pytest.MonkeyPatch) -> EmulatorServer:
    monkeypatch.setattr(emulator_server, "IDLE_CONNECTION_SECONDS", 0.3)
    running = EmulatorServer(lambda request: Response.json(200, {"path": request.path}), name="idle-test")
    running.start()
    yield running
    running.stop()


def _get(sock: socket.socket, path: str) -> bytes:
    """Sends one request and reads its whole answer (status line, headers, body), leaving none unread."""
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    answer = b""
    while b"\r\n\r\n" not in answer:
        answer += sock.recv(65536)
    head, body = answer.split(b"\r\n\r\n", 1)
    length = next(
        int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")
    )
    while len(body) < length:
        body += sock.recv(65536)
    return head


def test_an_idle_keep_alive_connection_is_closed(quick_idle: EmulatorServer) -> None:
    with socket.create_connection(("127.0.0.1", quick_idle.port), timeout=5) as sock:
        assert b"200" in _get(sock, "/a").split(b"\r\n", 1)[0]
        assert b"200" in _get(sock, "/b").split(b"\r\n", 1)[0]  # still kept alive while in use
        time.sleep(1.0)
        assert sock.recv(1) == b""  # the server closed it


def test_a_client_reconnects_after_the_close(quick_idle: EmulatorServer) -> None:
    with httpx.Client(base_url=quick_idle.base_url) as client:
        assert client.get("/first").json() == {"path": "/first"}
        time.sleep(1.0)
        assert client.get("/second").json() == {"path": "/second"}
