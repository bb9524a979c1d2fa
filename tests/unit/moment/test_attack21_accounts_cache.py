"""Attack on #21: the financialAccounts cache lives as long as the tenant's client, i.e. the warm
Lambda container (hours). An account renumbered in Moment under the same id (3000 -> 3010, or given
another VAT code) was booked by its old number until the container died, silently."""

from __future__ import annotations

import respx

from momentsync.moment.client import ACCOUNTS_MAX_AGE_SECONDS, INVOICE_INCLUDE, MomentClient

BASE = "https://moment.test/api/1.0"
ROOT = f"{BASE}/companies/acme"


def accounts(number: str, code: str) -> dict:
    return {
        "content": [{"id": 11, "accountNumber": number, "externalTaxCode": code}],
        "page": {"number": 0, "size": 200, "totalElements": 1, "totalPages": 1},
    }


INVOICE = {
    "id": 7,
    "invoiceNumber": 1007,
    "customerId": 3,
    "invoiceDate": "2025-01-31",
    "invoiceLines": [{"financialAccountId": 11, "unitPrice": 100, "amountExcludingVat": 100, "vatAmount": 0}],
}


def test_an_account_renumbered_under_the_same_id_is_seen_once_the_cache_is_old():
    now = [1000.0]
    with (
        respx.mock(base_url=ROOT) as mock,
        MomentClient("acme", "sk-key", base_url=BASE, sleep=lambda s: None, clock=lambda: now[0]) as client,
    ):
        mock.get(f"/invoices/7/include/{INVOICE_INCLUDE}").respond(json=INVOICE)
        route = mock.get("/financialAccounts")
        route.respond(json=accounts("3000", "3"))
        assert client.get_invoice(7).lines[0].account_number == "3000"
        route.respond(json=accounts("3010", "6"))  # renumbered in Moment, same id
        now[0] += 5
        assert client.get_invoice(7).lines[0].account_number == "3000"  # a burst shares one read
        assert route.call_count == 1
        now[0] += ACCOUNTS_MAX_AGE_SECONDS
        line = client.get_invoice(7).lines[0]
        assert (line.account_number, line.vat_code) == ("3010", "6")
        assert route.call_count == 2
