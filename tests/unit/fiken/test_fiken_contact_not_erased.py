"""A field Moment did not send is unknown, not empty: it never erases the value in Fiken (#21).

Moment's customer field names are guesses; under a name we do not read, a field arrives "absent".
Before, the PUT (which replaces the whole contact) sent it as null and wiped Fiken's value.
"""

from __future__ import annotations

import pytest

from momentsync.connectors.fiken import mapping
from momentsync.connectors.fiken.models import ContactResult
from momentsync.moment.models import Customer

IN_FIKEN = ContactResult.model_validate(
    {
        "contactId": 77,
        "name": "Acme AS",
        "email": "faktura@acme.no",
        "organizationNumber": "912345670",
        "phoneNumber": "22334455",
        "customer": True,
        "currency": "SEK",
        "address": {
            "streetAddress": "Drottninggatan 1",
            "postCode": "11151",
            "city": "Stockholm",
            "country": "Sweden",
        },
    }
)


def put_body(moment_json: dict) -> dict:
    customer = Customer.model_validate(moment_json)
    wanted = mapping.contact_from_customer(customer)
    owned = mapping.owned_contact_fields(wanted, customer, IN_FIKEN.address)
    return IN_FIKEN.to_contact(**owned).to_body()


def test_a_customer_sending_only_its_name_changes_only_the_name():
    body = put_body({"id": 1, "customerNumber": "10001", "name": "Acme Group AS"})
    assert body["name"] == "Acme Group AS"
    assert body["email"] == "faktura@acme.no" and body["organizationNumber"] == "912345670"
    assert body["phoneNumber"] == "22334455" and body["currency"] == "SEK"
    assert body["address"] == {
        "streetAddress": "Drottninggatan 1",
        "postCode": "11151",
        "city": "Stockholm",
        "country": "Sweden",
    }


@pytest.mark.parametrize(
    ("renamed", "field", "value"),
    [
        ({"orgNumber": "998877665"}, "organizationNumber", "998877665"),
        ({"mail": "ny@acme.no"}, "email", "ny@acme.no"),
        ({"zipCode": "11152"}, ("address", "postCode"), "11152"),
        ({"country": "SE", "city": "Uppsala"}, ("address", "country"), "Sweden"),
        ({"country": {"code": "DK", "name": "Danmark"}, "city": "Aarhus"}, ("address", "country"), "Denmark"),
        ({"phoneNumber": "99"}, "phoneNumber", "99"),
    ],
)
def test_renamed_fields_are_read_and_written(renamed, field, value):
    body = put_body({"id": 1, "customerNumber": "10001", "name": "Acme AS", **renamed})
    got = body[field[0]][field[1]] if isinstance(field, tuple) else body[field]
    assert got == value


def test_a_field_moment_sent_as_null_does_clear():
    body = put_body({"id": 1, "customerNumber": "10001", "name": "Acme AS", "organizationNumber": None})
    assert "organizationNumber" not in body  # explicitly empty in Moment: cleared in Fiken
    assert body["email"] == "faktura@acme.no"


def test_the_org_number_under_another_name_still_finds_the_contact_to_adopt():
    customer = Customer.model_validate({"id": 1, "name": "Acme AS", "orgNumber": "912 345 670"})
    assert mapping.contact_from_customer(customer).organization_number == "912345670"
