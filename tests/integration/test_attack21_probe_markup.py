"""Attack on #21's probe output: Moment's field names and values were printed as rich markup. A field
named ``[/]`` (or an export status ``[/bold]``) made `tenants probe` crash with a MarkupError instead
of reporting; a name like ``[link=...]`` was rendered, not shown. Moment's text is now escaped."""

from __future__ import annotations

import json
import uuid

import pytest
from typer.testing import CliRunner

from momentsync.cli.main import app

CUSTOMER = {"id": 501, "customerNumber": "10001", "name": "Fjordlys AS", "[/]": 1, "[bold]x": 2}
INVOICE = {
    "id": 502,
    "invoiceNumber": 20002,
    "invoiceDate": "2025-03-01",
    "customerId": 501,
    "exportStatus": "[/bold]",
    "invoiceLines": [],
}


@pytest.fixture
def cli(paused_stack, tmp_path, monkeypatch):
    state = tmp_path / "local-stack.json"
    state.write_text(json.dumps(paused_stack.describe()))
    monkeypatch.setenv("MOMENTSYNC_LOCAL_STATE", str(state))
    runner = CliRunner()

    def run(*args: str, code: int = 0):
        result = runner.invoke(app, ["--local", *args])
        assert result.exit_code == code, (result.exit_code, result.output, result.exception)
        return result

    return run


def test_markup_in_moments_field_names_and_values_is_shown_not_interpreted(make_tenant, moment_emulator, cli):
    company, key = f"c{uuid.uuid4().hex[:8]}", f"moment-key-{uuid.uuid4().hex}"
    moment_emulator.add_api_key(company, key)
    moment_emulator.load_samples(company, {"customers": [CUSTOMER], "invoices": [INVOICE]})
    tenant_id = make_tenant(moment_company_code=company, moment_api_key=key).tenant.tenant_id
    output = cli("tenants", "probe", tenant_id).output
    assert "[/]" in output and "[bold]x" in output
    assert "[/bold]" in output  # the unknown export status, named in the problem line
