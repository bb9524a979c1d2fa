"""Attack on #21's credit-note markers: a credit note naming its original only by number
(``creditedInvoiceNumber`` / ``originalInvoiceNumber``, no id) was not recognised: booked as an
ordinary negative invoice, the original never credited (the case the issue names for
``creditedInvoiceId``). The flat number is in the accepted flat forms but only helped next to an id."""

from __future__ import annotations

import pytest

from momentsync.moment.models import Invoice, MomentFieldMissing

CREDIT = {
    "id": 9,
    "customer": {"id": 3},
    "invoiceNumber": 1005,
    "invoiceDate": "2025-01-31",
    "invoiceLines": [
        {
            "financialAccount": {"accountNumber": "3000", "externalTaxCode": "3"},
            "unitPrice": -100,
            "amountExcludingVat": -100,
            "vatAmount": -25,
        }
    ],
}


@pytest.mark.parametrize("key", ["creditedInvoiceNumber", "originalInvoiceNumber"])
def test_a_credit_note_naming_its_original_only_by_number_fails_naming_the_field(key):
    invoice = Invoice.model_validate({**CREDIT, key: 1002})
    with pytest.raises(MomentFieldMissing) as exc:
        invoice.not_transferable_reason  # noqa: B018
    assert (
        exc.value.field_name == "creditedInvoice.id"
        and "1002" in exc.value.reason
        and key in exc.value.reason
    )


def test_with_the_id_too_it_credits_the_original():
    invoice = Invoice.model_validate({**CREDIT, "creditedInvoiceId": 88, "creditedInvoiceNumber": 1002})
    assert invoice.not_transferable_reason is None
    assert (
        invoice.is_credit_note
        and invoice.credited_invoice_id == 88
        and invoice.credited_invoice_number == 1002
    )
