"""The Moment emulator serving raw samples and financialAccounts, read through MomentClient (#21)."""

from __future__ import annotations

import pytest

from emulators.moment import MomentEmulator
from emulators.moment.fixtures import ACCOUNTS
from momentsync.moment.client import MomentClient
from momentsync.moment.models import MomentFieldMissing

COMPANY = "acme"
KEY = "emulator-samples-key"

# What a live Moment might answer (flat includes, account by id only, renamed fields).
SAMPLES = {
    "customers": [{"id": 501, "customerNumber": "10001", "name": "Xxxxxxx XX", "orgNumber": "000000000"}],
    "invoices": [
        {
            "id": 601,
            "invoiceNumber": 20002,
            "invoiceDate": "2025-03-01",
            "customerId": 501,
            "customerName": "Xxxxxxx XX",
            "invoiceLines": [
                {
                    "financialAccountId": ACCOUNTS["3000"].id,
                    "unitPrice": 1000,
                    "amountExcludingVat": 1000,
                    "vatAmount": 250,
                }
            ],
        },
        {
            "id": 602,
            "invoiceNr": 20003,
            "invoiceState": "SENT",
            "invoiceDate": "2025-03-02",
            "customerId": 501,
        },
    ],
}


@pytest.fixture
def client():
    with MomentEmulator() as emulator:
        emulator.add_api_key(COMPANY, KEY)
        assert emulator.load_samples(COMPANY, SAMPLES) == 3
        with MomentClient(COMPANY, KEY, base_url=emulator.api_base_url, sleep=lambda s: None) as moment:
            yield moment


def test_samples_are_served_as_sent_and_accounts_resolved_by_id(client):
    customer = client.get_customer(501)
    assert customer.organization_number == "000000000"
    invoice = client.get_invoice(601)
    assert invoice.customer.id == 501 and invoice.customer.name == "Xxxxxxx XX"
    assert [(line.account_number, line.vat_code) for line in invoice.lines] == [("3000", "3")]
    assert invoice.not_transferable_reason is None
    assert [i.id for i in client.list_invoices()] == [601, 602]


def test_a_sample_with_a_renamed_number_fails_naming_the_field(client):
    invoice = client.get_invoice(602)
    with pytest.raises(MomentFieldMissing) as exc:
        _ = invoice.not_transferable_reason
    assert exc.value.field_name == "invoiceNumber" and "invoiceNr" in exc.value.reason


def test_financial_accounts_are_listed_like_moment(client):
    accounts = client.financial_accounts()
    assert accounts[ACCOUNTS["3030"].id].vat_code == "31"
    assert accounts[ACCOUNTS["7740"].id].vat_code is None
