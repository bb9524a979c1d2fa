"""Attack on #21: "a record that lacks a field the mapping needs fails with a reason that names the field
*and the fields Moment did send*". A record that does not fit the model at all (a customer whose
``name`` arrives as ``customerName``, a line without ``unitPrice``) named only the field: the fields
Moment sent, the clue to the rename, were missing from the reason. Keys only, never values."""

from __future__ import annotations

import pytest
import respx

from momentsync.moment.client import INVOICE_INCLUDE, MomentClient, MomentResponseInvalid

BASE = "https://moment.test/api/1.0"
ROOT = f"{BASE}/companies/acme"


@pytest.fixture
def client():
    with MomentClient("acme", "sk-key", base_url=BASE, sleep=lambda s: None) as moment:
        yield moment


def test_a_customer_without_name_names_the_fields_moment_sent(client):
    with respx.mock(base_url=ROOT) as mock:
        mock.get("/customers/1").respond(json={"id": 1, "customerName": "Fjordlys AS", "orgNo": "912345670"})
        with pytest.raises(MomentResponseInvalid) as exc:
            client.get_customer(1)
    reason = exc.value.reason
    assert "name: Field required" in reason and "Moment sent: customerName, id, orgNo" in reason
    assert "Fjordlys" not in reason and "912345670" not in reason


def test_a_line_without_a_price_names_the_lines_fields(client):
    invoice = {
        "id": 7,
        "invoiceNumber": 1007,
        "customer": {"id": 3},
        "invoiceDate": "2025-01-31",
        "invoiceLines": [
            {"financialAccountId": 11, "priceExVat": 100, "amountExcludingVat": 100, "vatAmount": 25}
        ],
    }
    with respx.mock(base_url=ROOT) as mock:
        mock.get(f"/invoices/7/include/{INVOICE_INCLUDE}").respond(json=invoice)
        with pytest.raises(MomentResponseInvalid) as exc:
            client.get_invoice(7)
    assert "Moment sent: amountExcludingVat, financialAccountId, priceExVat, vatAmount" in exc.value.reason
