"""`make run` keeps its state across restarts (issue 14 item 6), tested on the real entry point in
subprocesses: a run is killed with SIGKILL after an autosave, the next one restores it, keeps the demo
tenant's webhook URL, and processes what was accepted; Ctrl-C drains and saves.
Before: every start was empty and made a new webhook secret; a kill lost queued events and state."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from local import persistence
from local.template import ROOT


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start(env: dict[str, str], port: int, log: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen(  # noqa: S603 - our own entry point
        [sys.executable, "-m", "local.run", "--port", str(port), *args],
        cwd=ROOT,
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )


def wait_for(log: Path, text: str, process: subprocess.Popen, timeout: float = 120) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        output = log.read_text()
        if text in output:
            return output
        assert process.poll() is None, output
        time.sleep(0.2)
    raise AssertionError(f"{text!r} not seen:\n{log.read_text()}")


def test_a_restart_keeps_state_and_the_webhook_url_and_ctrl_c_drains(tmp_path):
    env = {
        **os.environ,
        "MOMENTSYNC_LOCAL_SNAPSHOT": str(tmp_path / "state.pickle"),
        "MOMENTSYNC_LOCAL_STATE": str(tmp_path / "stack.json"),
        "MOMENTSYNC_LOCAL_AUTOSAVE_SECONDS": "0.5",
    }
    for key in ("AWS_ENDPOINT_URL", "AWS_DEFAULT_REGION", "AWS_REGION"):  # the test session's own moto
        env.pop(key, None)
    port = free_port()
    first_log, second_log = tmp_path / "first.log", tmp_path / "second.log"

    first = start(env, port, first_log, "--fresh")
    try:
        output = wait_for(first_log, "serving;", first)
        url = re.search(r"webhook URL: (\S+)", output).group(1)
        customer_id = int(re.search(r'"customer":\{"id":(\d+)\}', output).group(1))
        time.sleep(1.5)  # at least one autosave
    finally:
        first.send_signal(signal.SIGKILL)  # no goodbye: only the autosave survives
        first.wait(30)
    assert (tmp_path / "state.pickle").exists()

    second = start(env, port, second_log)
    try:
        output = wait_for(second_log, "serving;", second)
        assert "restored the state saved at" in output
        assert f"webhook URL: {url}" in output  # the same URL, the same secret
        assert re.search(r"invoice\s+\d+: no\. \d+", output), output  # the emulated Fiken kept its records
        answer = httpx.post(url, json={"event": "UPDATE", "customer": {"id": customer_id}}, timeout=10)
        assert answer.status_code == 202, answer.text
        time.sleep(1)
        second.send_signal(signal.SIGINT)
        assert second.wait(60) == 0
    finally:
        if second.poll() is None:
            second.kill()
    output = second_log.read_text()
    assert "letting the batches in flight finish" in output and "state saved to" in output
    assert "Traceback" not in output

    snapshot = persistence.load(tmp_path / "state.pickle")
    outcomes = [
        item.attrs["outcome"].value
        for regional in snapshot.moto["dynamodb"].values()
        for backend in regional.values()
        for name, table in backend.tables.items()
        if "TransferLog" in name
        for items in table.items.values()
        for item in items.values()
    ]
    assert outcomes.count("unchanged") >= 1  # the event sent after the restart was processed, not lost


def test_an_unreadable_snapshot_is_reported_not_a_traceback(tmp_path):
    broken = tmp_path / "state.pickle"
    broken.write_bytes(b"\x80\x05 not a snapshot")
    with pytest.raises(persistence.SnapshotUnusable, match="cannot be read"):
        persistence.load(broken)
    assert persistence.load(tmp_path / "none.pickle") is None
