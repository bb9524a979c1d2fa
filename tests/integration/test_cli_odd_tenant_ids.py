"""The operator CLI given odd tenant ids: unicode, slashes, dots, control characters, very long. Each
answers with a one-line error and exit 3 (not found), never a traceback; --json stays valid JSON."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from momentsync.cli.main import app

ODD = ["ø-æ-å", "a/../b", "..", "a%2Fb", "x" * 600, "a\tb", "ﬁken", "\u202eevil"]


@pytest.fixture
def local(paused_stack, tmp_path, monkeypatch):
    state = tmp_path / "local-stack.json"
    state.write_text(json.dumps(paused_stack.describe()))
    monkeypatch.setenv("MOMENTSYNC_LOCAL_STATE", str(state))


@pytest.mark.parametrize("tenant_id", ODD)
def test_odd_tenant_ids_are_not_found_cleanly(local, tenant_id):
    runner = CliRunner()
    for command in (["tenants", "page-url", tenant_id], ["status", tenant_id]):
        result = runner.invoke(app, ["--local", *command])
        assert result.exit_code == 3, (command, result.output, result.exception)
        assert "Traceback" not in result.output
        assert "?token=" not in result.output
    result = runner.invoke(app, ["--local", "--json", "status"])
    assert result.exit_code == 0, result.output
    json.loads(result.stdout)
