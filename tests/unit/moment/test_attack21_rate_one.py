"""Attack on #21's exchange rate: the issue names "a renamed exchange rate defaults to 1" (EUR booked
as NOK). A Moment that *sends* its default, ``currencyRate: 1`` on a EUR invoice (the real rate under
a name we do not read, or not filled in), still booked EUR amounts as NOK. No currency trades at par
with NOK: a rate of exactly 1 for a foreign currency now fails naming currencyRate."""

from __future__ import annotations

import pytest

from momentsync.moment.models import Invoice, MomentFieldMissing

EUR = {
    "id": 9,
    "invoiceNumber": 1009,
    "customer": {"id": 3},
    "invoiceDate": "2025-01-31",
    "currencyCode": "EUR",
    "invoiceLines": [
        {
            "financialAccount": {"accountNumber": "3000", "externalTaxCode": "3"},
            "unitPrice": 100,
            "amountExcludingVat": 100,
            "vatAmount": 25,
        }
    ],
}


@pytest.mark.parametrize("rate", [1, "1.0", "1.0000"])
def test_a_foreign_currency_at_rate_one_fails_naming_the_rate(rate):
    invoice = Invoice.model_validate({**EUR, "currencyRate": rate})
    with pytest.raises(MomentFieldMissing) as exc:
        invoice.not_transferable_reason  # noqa: B018
    assert exc.value.field_name == "currencyRate" and "EUR" in exc.value.reason


def test_nok_at_rate_one_and_eur_at_a_real_rate_transfer():
    assert Invoice.model_validate({**EUR, "currencyCode": "NOK", "currencyRate": 1}).transferable
    assert Invoice.model_validate({**EUR, "currencyRate": "11.4875"}).transferable
