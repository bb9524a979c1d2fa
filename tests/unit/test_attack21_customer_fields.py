"""Attack on #21: "a field Moment did not send must never erase one in the target".

Two composite fields slipped through the was-sent rule:
- the contact's e-mail is ``invoiceEmail or email``: Moment sending ``invoiceEmail: null`` (no separate
  invoice address) while its ordinary e-mail arrives under a name we do not read made the e-mail
  "sent as null" and erased it in Fiken and SpareBank 1;
- Fiken's address: Moment sending only ``countryCode: "SE"`` (street/post code/city under names we do
  not read) turned the Swedish contact into a Norwegian one.
"""

from __future__ import annotations

from momentsync.connectors.fiken import mapping as fiken_mapping
from momentsync.connectors.fiken.models import ContactResult
from momentsync.connectors.sparebank1 import mapping as sb1_mapping
from momentsync.connectors.sparebank1.models import Address, BusinessRelation, Email
from momentsync.connectors.sparebank1.models import Customer as SB1Customer
from momentsync.moment.models import Customer

IN_FIKEN = ContactResult.model_validate(
    {
        "contactId": 77,
        "name": "Acme AB",
        "email": "faktura@acme.se",
        "customer": True,
        "address": {
            "streetAddress": "Drottninggatan 1",
            "postCode": "11151",
            "city": "Stockholm",
            "country": "Sweden",
        },
    }
)


def fiken_put(moment_json: dict) -> dict:
    customer = Customer.model_validate(moment_json)
    wanted = fiken_mapping.contact_from_customer(customer)
    owned = fiken_mapping.owned_contact_fields(wanted, customer, IN_FIKEN.address)
    return IN_FIKEN.to_contact(**owned).to_body()


def test_fiken_an_invoice_email_sent_as_null_does_not_erase_the_email_moment_did_not_send():
    body = fiken_put({"id": 1, "customerNumber": "10001", "name": "Acme AB", "invoiceEmail": None})
    assert body["email"] == "faktura@acme.se"


def test_fiken_an_explicit_null_for_both_emails_still_clears():
    body = fiken_put({"id": 1, "name": "Acme AB", "invoiceEmail": None, "email": None})
    assert "email" not in body


def test_fiken_the_ordinary_email_is_used_when_the_invoice_email_is_null():
    body = fiken_put({"id": 1, "name": "Acme AB", "invoiceEmail": None, "email": "post@acme.se"})
    assert body["email"] == "post@acme.se"


def test_fiken_a_country_sent_alone_keeps_the_country_moment_sent():
    body = fiken_put({"id": 1, "customerNumber": "10001", "name": "Acme AB", "countryCode": "SE"})
    assert body["address"] == {
        "streetAddress": "Drottninggatan 1",
        "postCode": "11151",
        "city": "Stockholm",
        "country": "Sweden",
    }


def test_fiken_a_country_change_sent_alone_is_written():
    body = fiken_put({"id": 1, "name": "Acme AB", "country": {"code": "DK"}})
    assert body["address"]["country"] == "Denmark" and body["address"]["city"] == "Stockholm"


def test_sparebank1_an_invoice_email_sent_as_null_does_not_erase_the_email():
    fetched = SB1Customer(
        ID=5,
        CustomerNumber=100123,
        Info=BusinessRelation(
            ID=8,
            Name="Acme AB",
            DefaultEmail=Email(ID=3, EmailAddress="faktura@acme.se"),
            InvoiceAddress=Address(
                ID=6, AddressLine1="Gata 1", PostalCode="0150", City="Oslo", CountryCode="NO"
            ),
        ),
    )
    sparse = Customer.model_validate(
        {"id": 7, "customerNumber": "100123", "name": "Acme AB", "invoiceEmail": None}
    )
    body = sb1_mapping.customer_body("t1", sparse, fetched, currency_id=None).echo_body()
    assert body["Info"]["DefaultEmail"]["EmailAddress"] == "faktura@acme.se"
    both_null = Customer.model_validate(
        {"id": 7, "customerNumber": "100123", "name": "Acme AB", "invoiceEmail": None, "email": None}
    )
    body = sb1_mapping.customer_body("t1", both_null, fetched, currency_id=None).echo_body()
    assert body["Info"]["DefaultEmail"]["EmailAddress"] is None
