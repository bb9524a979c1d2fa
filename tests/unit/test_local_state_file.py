"""A stale or broken local state file gives a CLI line with a hint, never a traceback (issue 14 item 6).
Before: a file left by a killed `make run` made `momentsync --local status` print a connection traceback."""

from __future__ import annotations

import json
import socket

import pytest
from typer.testing import CliRunner

from momentsync.cli.main import app


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


STALE = {
    "region": "eu-north-1",
    "webhook_base_url": "http://127.0.0.1:3000",
    "environment": {"TENANTS_TABLE": "t"},
}


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (
            lambda: json.dumps({**STALE, "aws_endpoint_url": f"http://127.0.0.1:{free_port()}"}),
            "is not running",
        ),
        (lambda: '{"region": "eu-north-1", "environ', "not a readable local stack state"),
        (lambda: json.dumps({"region": "eu-north-1"}), "not a readable local stack state"),
        (lambda: "[]", "not a readable local stack state"),
    ],
)
def test_a_stale_or_broken_state_file_gives_a_line_with_a_hint(tmp_path, monkeypatch, content, says):
    state = tmp_path / "local-stack.json"
    state.write_text(content())
    monkeypatch.setenv("MOMENTSYNC_LOCAL_STATE", str(state))

    result = CliRunner().invoke(app, ["--local", "status"])

    assert result.exit_code != 0
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    output = " ".join(result.output.split())  # rich wraps long lines
    assert says in output and "make run" in output
    assert "Traceback" not in output
