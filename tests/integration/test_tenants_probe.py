"""`momentsync tenants probe`: the tenant's Moment against the models, read-only, masked (#21)."""

from __future__ import annotations

import json
import uuid

import pytest
from typer.testing import CliRunner

from emulators.moment.fixtures import ACCOUNTS
from momentsync.cli.main import app
from momentsync.moment.client import MomentClient
from momentsync.operations.moment_probe import load_samples, mask

CUSTOMER = {
    "id": 401,
    "customerNumber": "10001",
    "name": "Fjordlys Rådgivning AS",
    "orgNumber": "912345670",
    "email": "post@fjordlys.no",
    "customerState": "ACTIVE",
}
INVOICE = {
    "id": 402,
    "invoiceNr": 20002,
    "invoiceState": "SENT",
    "invoiceDate": "2025-03-01",
    "customerId": 401,
    "customerName": "Fjordlys Rådgivning AS",
    "currency": {"code": "NOK"},
    "invoiceLines": [
        {
            "financialAccountId": ACCOUNTS["3000"].id,
            "unitPrice": 1000,
            "amountExcludingVat": 1000,
            "vatAmount": 250,
        }
    ],
}


@pytest.fixture
def cli(paused_stack, tmp_path, monkeypatch):
    state = tmp_path / "local-stack.json"
    state.write_text(json.dumps(paused_stack.describe()))
    monkeypatch.setenv("MOMENTSYNC_LOCAL_STATE", str(state))
    runner = CliRunner()

    def run(*args: str, code: int = 0):
        result = runner.invoke(app, ["--local", *args])
        assert result.exit_code == code, (result.exit_code, result.output)
        return result

    return run


def test_probe_reports_fields_unknown_names_and_problems_masked_and_saves_fixtures(
    make_tenant, moment_emulator, cli, tmp_path
):
    company, key = f"c{uuid.uuid4().hex[:8]}", f"moment-key-{uuid.uuid4().hex}"
    moment_emulator.add_api_key(company, key)
    moment_emulator.load_samples(company, {"customers": [CUSTOMER], "invoices": [INVOICE]})
    tenant_id = make_tenant(moment_company_code=company, moment_api_key=key).tenant.tenant_id
    before = len(moment_emulator.request_log.entries())

    saved_to = tmp_path / "samples"
    report = json.loads(cli("--json", "tenants", "probe", tenant_id, "--save", str(saved_to)).stdout)

    entities = {e["collection"]: e for e in report["entities"]}
    customers = {f["name"]: f for f in entities["customers"]["fields"]}
    assert customers["organizationNumber"]["status"] == "present"
    assert customers["organizationNumber"]["as_names"] == [
        "orgNumber"
    ]  # the guess was wrong: here is the name
    assert customers["phone"]["status"] == "never seen"
    invoices = entities["invoices"]
    assert "invoiceNr" in invoices["unknown"]
    assert any("'invoiceNumber'" in problem and "would fail" in problem for problem in invoices["problems"])
    fields = {f["name"]: f for f in invoices["fields"]}
    assert fields["currencyCode"]["as_names"] == ["currency"]
    assert fields["invoiceLines[].financialAccount"]["status"] == "present"
    assert entities["financialAccounts"]["samples"] == 5 and entities["financialAccounts"]["error"] is None
    # Read-only: GETs only.
    assert {e.method for e in moment_emulator.request_log.entries()[before:]} == {"GET"}

    # Masked: nothing personal in the output or the saved files; shapes and codes kept.
    text = json.dumps(report) + "".join(p.read_text() for p in saved_to.glob("*.json"))
    assert "912345670" not in text and "fjordlys" not in text.lower()
    samples = load_samples(saved_to)
    assert samples["customers"][0]["orgNumber"] == "000000000"
    assert (
        samples["customers"][0]["customerState"] == "ACTIVE"
        and samples["invoices"][0]["invoiceState"] == "SENT"
    )

    # The saved samples are fixtures: another emulator company serves them as they were read.
    fixture_company = f"f{uuid.uuid4().hex[:8]}"
    moment_emulator.add_api_key(fixture_company, key + "-f")
    moment_emulator.load_samples(fixture_company, samples)
    with MomentClient(fixture_company, key + "-f", base_url=moment_emulator.api_base_url) as moment:
        assert moment.get_customer(401).organization_number == "000000000"
        assert moment.get_invoice(402).lines[0].account_number == "3000"


def test_probe_of_an_unknown_tenant(cli):
    result = cli("tenants", "probe", "nobody", code=3)
    assert "not found" in result.output


def test_mask_keeps_shape_and_codes():
    assert mask({"name": "Ola Nordmann", "kid": "2000241", "state": "TO_TRANSFER", "vat": "3", "n": 5}) == {
        "name": "xxx xxxxxxxx",
        "kid": "0000000",
        "state": "TO_TRANSFER",
        "vat": "3",
        "n": 5,
    }
