"""Attack on #21's probe verdicts: the probe judged each invoice from the raw record, without the account
completion the product does (``GET financialAccounts`` for lines naming their account only by id). An
invoice of exactly the shape the issue documents (lines with only ``financialAccountId``) was reported
as "would fail: ... has no account number" although the product books it."""

from __future__ import annotations

import respx

from momentsync.moment.client import INVOICE_INCLUDE, MomentClient
from momentsync.operations.moment_probe import probe_entity

BASE = "https://moment.test/api/1.0"
ROOT = f"{BASE}/companies/acme"
ACCOUNTS = {
    "content": [{"id": 11, "accountNumber": "3000", "externalTaxCode": "3"}],
    "page": {"number": 0, "size": 200, "totalElements": 1, "totalPages": 1},
}


def invoice(account_id: int) -> dict:
    return {
        "id": 7,
        "invoiceNumber": 1007,
        "customerId": 3,
        "invoiceDate": "2025-01-31",
        "invoiceLines": [
            {"financialAccountId": account_id, "unitPrice": 100, "amountExcludingVat": 100, "vatAmount": 25}
        ],
    }


def probe(record: dict):
    with (
        respx.mock(base_url=ROOT, assert_all_called=False) as mock,
        MomentClient("acme", "sk-key", base_url=BASE, sleep=lambda s: None) as client,
    ):
        page = {"number": 0, "size": 5, "totalElements": 1, "totalPages": 1}
        mock.get(f"/invoices/include/{INVOICE_INCLUDE}").respond(json={"content": [record], "page": page})
        mock.get("/financialAccounts").respond(json=ACCOUNTS)
        result = probe_entity(client, "invoices", 5)
        assert {call.request.method for call in mock.calls} == {"GET"}
        return result


def test_an_invoice_whose_lines_name_accounts_by_id_is_not_reported_as_failing():
    assert probe(invoice(11)).problems == []


def test_an_account_id_moment_does_not_list_is_still_reported():
    [problem] = probe(invoice(99)).problems
    assert "would fail" in problem and "99" in problem
