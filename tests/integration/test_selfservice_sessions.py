"""Page sessions: bound to one tenant, expire, closed on sign-out, stored only as a hash; the CLI prints
the one-time page link whole."""

from __future__ import annotations

import json
from datetime import timedelta

from typer.testing import CliRunner

from momentsync.aws.page_sessions import DynamoPageSessions
from momentsync.cli.main import app


def auth_table(stack):
    return stack.aws.resource("dynamodb").Table(stack.physical("AuthTable"))


def test_a_session_expires_works_for_its_tenant_only_and_is_stored_hashed(paused_stack):
    now = [1_000_000.0]
    sessions = DynamoPageSessions(auth_table(paused_stack), timedelta(minutes=30), clock=lambda: now[0])
    session = sessions.open("acme")
    assert sessions.find("acme", session.session_id) == session
    assert sessions.find("other", session.session_id) is None
    assert sessions.find("acme", session.session_id[:-1] + "x") is None
    assert sessions.find("acme", "../../etc") is None
    stored = auth_table(paused_stack).scan()["Items"]
    assert not any(session.session_id in json.dumps(item, default=str) for item in stored)
    now[0] += 30 * 60 + 1
    assert sessions.find("acme", session.session_id) is None
    now[0] -= 60
    sessions.close(session)
    assert sessions.find("acme", session.session_id) is None


def test_page_url_is_printed_whole_and_audited(paused_stack, make_tenant, tmp_path, monkeypatch):
    state = tmp_path / "local-stack.json"
    state.write_text(json.dumps(paused_stack.describe()))
    monkeypatch.setenv("MOMENTSYNC_LOCAL_STATE", str(state))
    tenant_id = make_tenant().tenant.tenant_id
    result = CliRunner().invoke(app, ["--local", "tenants", "page-url", tenant_id])
    assert result.exit_code == 0, result.output
    [url] = [line for line in result.stdout.splitlines() if line.strip()]
    assert url.startswith(f"{paused_stack.webhook_base_url}/tenant/{tenant_id}?token=") and len(url) > 80
    missing = CliRunner().invoke(app, ["--local", "tenants", "page-url", "no-such-tenant"])
    assert missing.exit_code == 3
