"""Attack on #21's account resolution: lines are completed from ``GET financialAccounts`` only when they
lack the account *number*. Moment's documented flat include names a line's account as
``financialAccountId`` + ``financialAccountAccountNumber`` with no tax code: the line then failed with
"account 3000 has no VAT code in Moment" although Moment's own financialAccounts has it, the misleading
error the issue names. A line with an account id but no VAT code is completed too (the line's own
code, when it has one, wins)."""

from __future__ import annotations

import pytest
import respx

from momentsync.moment.client import INVOICE_INCLUDE, MomentClient

BASE = "https://moment.test/api/1.0"
ROOT = f"{BASE}/companies/acme"
ACCOUNTS = {
    "content": [{"id": 11, "accountNumber": "3000", "externalTaxCode": "3"}],
    "page": {"number": 0, "size": 200, "totalElements": 1, "totalPages": 1},
}


def invoice(line: dict) -> dict:
    return {
        "id": 7,
        "invoiceNumber": 1007,
        "customer": {"id": 3},
        "invoiceDate": "2025-01-31",
        "invoiceLines": [{"unitPrice": 100, "amountExcludingVat": 100, "vatAmount": 25, **line}],
    }


@pytest.mark.parametrize(
    ("line", "code", "reads"),
    [
        ({"financialAccountId": 11, "financialAccountAccountNumber": "3000"}, "3", 1),
        ({"financialAccount": {"id": 11, "accountNumber": "3000"}}, "3", 1),
        ({"financialAccountId": 11, "financialAccountAccountNumber": "3000", "externalTaxCode": "6"}, "6", 0),
        ({"financialAccount": {"accountNumber": "3000"}}, None, 0),  # no id: nothing to look up
    ],
)
def test_a_line_with_an_account_id_but_no_vat_code_gets_the_accounts_code(line, code, reads):
    with (
        respx.mock(base_url=ROOT, assert_all_called=False) as mock,
        MomentClient("acme", "sk-key", base_url=BASE, sleep=lambda s: None) as client,
    ):
        mock.get(f"/invoices/7/include/{INVOICE_INCLUDE}").respond(json=invoice(line))
        accounts = mock.get("/financialAccounts").respond(json=ACCOUNTS)
        [completed] = client.get_invoice(7).lines
        assert (completed.account_number, completed.vat_code) == ("3000", code)
        assert accounts.call_count == reads
