"""Attack on #21's draft detection: a Moment that says "no number yet" with ``invoiceNumber: 0``
instead of null (and no state field) had its drafts booked as invoice 0: transferable, numbered 0 in
Fiken's orderReference and SpareBank 1's InvoiceNumber, and every later draft "adopted" that first
document by its natural key. 0 (or less) now reads as no number: a draft skipped when no state says
otherwise, an error naming invoiceNumber when the state says it is finalized."""

from __future__ import annotations

import pytest

from momentsync.moment.models import Invoice, MomentFieldMissing

DRAFTISH = {
    "id": 9,
    "customer": {"id": 3},
    "invoiceDate": "2025-01-31",
    "invoiceLines": [
        {
            "financialAccount": {"accountNumber": "3000", "externalTaxCode": "3"},
            "unitPrice": 100,
            "amountExcludingVat": 100,
            "vatAmount": 25,
        }
    ],
}


@pytest.mark.parametrize("number", [0, "0", -1])
def test_number_zero_without_a_state_is_a_draft_not_invoice_zero(number):
    invoice = Invoice.model_validate({**DRAFTISH, "invoiceNumber": number})
    assert invoice.invoice_number is None and not invoice.finalized
    assert "draft" in (invoice.not_transferable_reason or "")


def test_number_zero_on_a_finalized_invoice_fails_naming_the_field():
    invoice = Invoice.model_validate({**DRAFTISH, "invoiceNumber": 0, "invoiceState": "SENT"})
    with pytest.raises(MomentFieldMissing) as exc:
        invoice.not_transferable_reason  # noqa: B018
    assert exc.value.field_name == "invoiceNumber"


def test_a_real_number_still_transfers():
    assert Invoice.model_validate({**DRAFTISH, "invoiceNumber": 1}).not_transferable_reason is None
