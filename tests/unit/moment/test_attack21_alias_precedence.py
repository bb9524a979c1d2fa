"""Attack on #21's accepted names: when Moment sends one field under two of them, the first name won
silently.

- ``currencyCode: "NOK"`` with ``currency: "EUR"`` (say the company's currency next to the invoice's):
  EUR amounts booked as NOK, exactly the silent wrong books the issue forbids; the same for the rate,
  the credit-note marker and the export status under two of their specific names. Now the record does
  not fit, naming both names and values. A generic name (``rate``, ``type``, ``date``) is not compared:
  it may mean something else, and our specific guess wins over it as before.
- ``email: null`` with ``mail: "post@acme.no"``: the null won and erased the e-mail in the target.
- ``currencyCode: " eur "`` passed the ISO check and reached Fiken as " eur "; it is normalised.
"""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from momentsync.moment.models import Customer, Invoice

BASE = {
    "id": 1,
    "customer": {"id": 3},
    "invoiceNumber": 5,
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


@pytest.mark.parametrize(
    ("extra", "names"),
    [
        ({"currencyCode": "NOK", "currency": "EUR", "currencyRate": 11.5}, ("currencyCode", "currency")),
        ({"currencyCode": "NOK", "currency": {"code": "EUR"}}, ("currencyCode", "currency")),
        ({"currencyCode": "EUR", "currencyRate": 1, "exchangeRate": 11.5}, ("currencyRate", "exchangeRate")),
        ({"creditNote": False, "isCreditNote": True}, ("creditNote", "isCreditNote")),
        (
            {"exportStatus": "TO_TRANSFER", "transferStatus": "DO_NOT_TRANSFER"},
            ("exportStatus", "transferStatus"),
        ),
    ],
)
def test_one_field_under_two_names_with_different_values_does_not_fit(extra, names):
    with pytest.raises(ValidationError) as exc:
        Invoice.model_validate({**BASE, **extra})
    message = str(exc.value)
    assert all(repr(name) in message or f"{name}=" in message for name in names), message


@pytest.mark.parametrize(
    "extra",
    [
        {"currencyCode": "EUR", "currency": {"code": "EUR", "name": "Euro"}, "currencyRate": 11.5},
        {"currencyRate": 11.5, "exchangeRate": "11.50", "currencyCode": "EUR"},
        {"creditNote": True, "isCreditNote": "true"},
        {"currencyCode": "NOK", "currency": None},
    ],
)
def test_the_same_value_under_two_names_is_fine(extra):
    invoice = Invoice.model_validate({**BASE, **extra})
    assert invoice.not_transferable_reason is None


@pytest.mark.parametrize(
    "extra",
    [
        {"currencyCode": "EUR", "currencyRate": 11.5, "rate": 1200},  # an hourly rate, say
        {"invoiceType": "INVOICE", "type": "HOURLY"},
        {"date": "2025-01-20"},  # created before it was finalized
        {"totalAmountIncludingVat": 125, "totalAmount": 100},  # the totals check judges amounts
    ],
)
def test_a_generic_name_does_not_conflict_with_our_specific_one(extra):
    invoice = Invoice.model_validate({**BASE, **extra})
    assert invoice.not_transferable_reason is None or "totals" in str(invoice.not_transferable_reason)


def test_a_currency_code_with_spaces_or_lower_case_is_normalised():
    invoice = Invoice.model_validate({**BASE, "currencyCode": " eur ", "currencyRate": 11.5})
    assert invoice.currency_code == "EUR" and invoice.not_transferable_reason is None
    assert Invoice.model_validate({**BASE, "currencyCode": "nok"}).currency_code == "NOK"


def test_a_null_under_one_name_does_not_hide_the_value_under_another():
    customer = Customer.model_validate({"id": 1, "name": "Acme", "email": None, "mail": "post@acme.no"})
    assert customer.email == "post@acme.no" and customer.was_sent("email")
    both_null = Customer.model_validate({"id": 1, "name": "Acme", "email": None, "mail": None})
    assert both_null.email is None and both_null.was_sent("email")


def test_a_generic_name_does_not_replace_a_null_under_our_specific_one():
    customer = Customer.model_validate(
        {"id": 1, "name": "Acme", "website": None, "url": "https://app.moment.team/api/1.0/customers/1"}
    )
    assert customer.website is None
