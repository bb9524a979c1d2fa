"""Attack on #21's probe masking: real values kept because they *look* like codes or are numbers.

The probe kept every string of at most 3 letters, every UPPER_CASE word and every camelCase word
(meant for states and VAT/currency codes), and every JSON number (meant for ids and amounts). A
customer named "ACME" or "EQUINOR", a city "OSLO", a first name "Ola", a contact "olaNordmann", and a
phone, org number (a private customer's may be a personal number) or KID sent as a JSON number were
printed and saved unmasked.
"""

from __future__ import annotations

from decimal import Decimal

from momentsync.operations.moment_probe import mask

RECORD = {
    "id": 7,
    "name": "EQUINOR",
    "firstName": "Ola",
    "city": "OSLO",
    "contactPerson": "olaNordmann",
    "phone": 98765432,
    "organizationNumber": 912345678,
    "orgNo": 26047912345,
    "kid": 2000241,
    "postalCode": 150,
    "invoiceState": "TO_TRANSFER",
    "currencyCode": "EUR",
    "countryCode": "SE",
    "language": "no",
    "projectState": "inProgress",
    "invoiceNumber": 10023,
    "customerNumber": "10001",
    "amountExcludingVat": Decimal("1000.50"),
    "invoiceLines": [
        {"financialAccount": {"accountNumber": "3000", "externalTaxCode": "3"}, "productType": "hours"}
    ],
}


def test_names_that_look_like_codes_are_masked():
    masked = mask(RECORD)
    assert masked["name"] == "xxxxxxx"
    assert masked["firstName"] == "xxx"
    assert masked["city"] == "xxxx"
    assert masked["contactPerson"] == "xxxxxxxxxxx"


def test_personal_numbers_sent_as_json_numbers_are_masked_keeping_their_type_and_length():
    masked = mask(RECORD)
    for key in ("phone", "organizationNumber", "orgNo", "kid", "postalCode"):
        assert isinstance(masked[key], int), key
        assert len(str(masked[key])) == len(str(RECORD[key])), key
        assert masked[key] != RECORD[key], key
    text = repr(masked)
    for secret in ("98765432", "912345678", "26047912345", "2000241"):
        assert secret not in text


def test_codes_ids_and_amounts_are_still_kept():
    masked = mask(RECORD)
    for key in (
        "id",
        "invoiceState",
        "currencyCode",
        "countryCode",
        "language",
        "projectState",
        "invoiceNumber",
        "amountExcludingVat",
    ):
        assert masked[key] == RECORD[key], key
    assert masked["invoiceLines"] == RECORD["invoiceLines"]
    assert masked["customerNumber"] == "00000"
