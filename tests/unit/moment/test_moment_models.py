"""Moment's JSON -> models: aliases, tolerance, money in øre (Decimal, ROUND_HALF_UP), states."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import pytest
from pydantic import ValidationError

from momentsync.moment.models import (
    Customer,
    ExportStatus,
    Invoice,
    MomentFieldMissing,
    Page,
    ProductType,
    Project,
    to_ore,
)

INVOICE = {
    "id": 106939080,
    "invoiceNumber": 1,
    "description": "Konsulenttimer januar",
    "customer": {"id": 62788973, "customerNumber": "10001"},
    "project": {"id": 62788980, "projectNumber": "1"},
    "invoiceDate": "2025-01-31",
    "dueDate": "2025-02-14",
    "paymentId": "0000100012",
    "yourReference": "Kari Nordmann",
    "currencyCode": "NOK",
    "currencyRate": 1,
    "totalAmountExcludingVat": 10375.04,
    "totalVatAmount": 2493.76,
    "totalAmountIncludingVat": 12868.80,
    "exportStatus": "toTransfer",
    "invoiceState": "finalized",
    "invoiceLines": [
        {
            "description": "Rådgivning",
            "financialAccount": {"accountNumber": "3000", "externalTaxCode": "3"},
            "quantity": 7.5,
            "unitPrice": 1250.005,
            "discountPercentage": 0,
            "amountExcludingVat": 9375.04,
            "vatAmount": 2343.76,
            "productType": "hours",
        },
        {
            "description": "Reise",
            "financialAccount": {"accountNumber": "3030", "externalTaxCode": "33"},
            "quantity": 1,
            "unitPrice": 1250,
            "discountPercentage": 20,
            "amountExcludingVat": 1000,
            "vatAmount": 150,
            "productType": "EXPENSES",
        },
    ],
    "lastModifiedDate": "2025-01-31T10:15:00.000Z",
    "somethingNew": {"kept": True},
}


def parse_invoice(payload: dict) -> Invoice:
    # As the client does: JSON numbers with decimals become Decimal, never float.
    return Invoice.model_validate(json.loads(json.dumps(payload), parse_float=Decimal))


def test_invoice_fields_are_read_from_moment_names():
    invoice = parse_invoice(INVOICE)
    assert invoice.invoice_number == 1
    assert invoice.customer.id == 62788973 and invoice.customer.customer_number == "10001"
    assert invoice.project is not None and invoice.project.project_number == "1"
    assert invoice.invoice_date == date(2025, 1, 31) and invoice.due_date == date(2025, 2, 14)
    assert invoice.payment_id == "0000100012"
    assert invoice.lines[0].quantity == Decimal("7.5")
    assert invoice.lines[0].account_number == "3000" and invoice.lines[0].vat_code == "3"
    assert invoice.lines[1].product_kind is ProductType.EXPENSES
    assert invoice.model_extra == {"somethingNew": {"kept": True}}


def test_money_is_integer_ore_rounded_half_up():
    invoice = parse_invoice(INVOICE)
    line = invoice.lines[0]
    assert line.unit_price_ore == 125001  # 1250.005 -> half up
    assert line.amount_excl_vat_ore == 937504 and line.vat_amount_ore == 234376
    assert line.amount_incl_vat_ore == 1171880
    assert invoice.total_incl_vat_ore == 1286880
    assert invoice.total_excl_vat_ore == 1037504 and invoice.total_vat_ore == 249376
    assert all(isinstance(v, int) for v in (invoice.total_incl_vat_ore, line.unit_price_ore))


@pytest.mark.parametrize(
    ("amount", "ore"),
    [("0.005", 1), ("-0.005", -1), ("12.344", 1234), ("12.345", 1235), ("-12.345", -1235), ("0", 0)],
)
def test_to_ore_rounds_half_away_from_zero(amount, ore):
    assert to_ore(Decimal(amount)) == ore


def test_totals_fall_back_to_the_sum_of_lines_when_moment_sends_none():
    payload = {k: v for k, v in INVOICE.items() if not k.startswith("total")}
    invoice = parse_invoice(payload)
    assert invoice.total_incl_vat_ore == 937504 + 234376 + 100000 + 15000
    assert invoice.total_vat_ore == 234376 + 15000


def test_float_input_is_not_binary_noise():
    invoice = Invoice.model_validate({**INVOICE, "totalAmountIncludingVat": 0.1 + 0.2})
    assert invoice.total_incl_vat_ore == 30


def test_python_names_are_accepted_too():
    customer = Customer(id=1, customer_number="10001", name="Acme AS", post_code="0150")
    assert customer.model_dump(by_alias=True)["postalCode"] == "0150"


def test_numbers_where_strings_are_expected_become_strings():
    customer = Customer.model_validate({"id": 1, "customerNumber": 10001, "name": "A", "postalCode": 150})
    assert customer.customer_number == "10001" and customer.post_code == "150"


@pytest.mark.parametrize(
    ("changes", "transferable", "reason_part"),
    [
        ({}, True, None),
        ({"exportStatus": "Do not transfer to accounting"}, False, "Do not transfer"),
        ({"exportStatus": "DO_NOT_TRANSFER"}, False, "Do not transfer"),
        ({"exportStatus": "Has been transferred"}, True, None),
        ({"invoiceState": "draft", "invoiceNumber": None}, False, "draft"),
        ({"invoiceNumber": None, "invoiceState": None}, False, "draft"),
    ],
)
def test_transferable(changes, transferable, reason_part):
    invoice = parse_invoice({**INVOICE, **changes})
    assert invoice.transferable is transferable
    if reason_part:
        assert reason_part in invoice.not_transferable_reason
    else:
        assert invoice.not_transferable_reason is None


@pytest.mark.parametrize(
    ("changes", "field_name"),
    [
        # A number-less invoice whose state says it is finalized: a renamed number, never a draft.
        ({"invoiceNumber": None}, "invoiceNumber"),
        ({"invoiceDate": None}, "invoiceDate"),
    ],
)
def test_contradictions_are_errors_naming_the_field(changes, field_name):
    invoice = parse_invoice({**INVOICE, **changes})
    with pytest.raises(MomentFieldMissing) as caught:
        _ = invoice.not_transferable_reason
    assert caught.value.field_name == field_name and "invoiceState" in caught.value.sent


def test_export_status_is_compared_loosely():
    assert (
        parse_invoice({**INVOICE, "exportStatus": "To transfer"}).export_status_kind
        is ExportStatus.TO_TRANSFER
    )
    assert parse_invoice({**INVOICE, "exportStatus": None}).export_status_kind is None


def test_credit_note_links_to_the_credited_invoice():
    credit = parse_invoice(
        {
            **INVOICE,
            "id": 2,
            "invoiceNumber": 2,
            "creditNote": True,
            "creditedInvoice": {"id": 106939080, "invoiceNumber": 1},
            "totalAmountIncludingVat": -12868.80,
        }
    )
    assert credit.is_credit_note and credit.credited_invoice_id == 106939080
    assert credit.credited_invoice_number == 1
    assert credit.total_incl_vat_ore == -1286880
    assert not parse_invoice(INVOICE).is_credit_note


def test_payment_id_falls_back_to_invoice_number():
    assert parse_invoice({**INVOICE, "paymentId": None}).payment_id_or_invoice_number == "1"
    assert parse_invoice(INVOICE).payment_id_or_invoice_number == "0000100012"


def test_flat_include_fields_are_nested():
    invoice = Invoice.model_validate(
        {
            "id": 5,
            "invoiceNumber": 3,
            "customerId": 7,
            "customerNumber": "10002",
            "customerName": "B AS",
            "projectId": 9,
            "projectNumber": "12",
            "invoiceLines": [
                {"accountNumber": "3000", "externalTaxCode": "3", "unitPrice": 1, "amountExcludingVat": 1}
            ],
        }
    )
    assert invoice.customer.id == 7 and invoice.customer.name == "B AS"
    assert invoice.project.id == 9 and invoice.project.project_number == "12"
    assert invoice.lines[0].vat_code == "3"


def test_line_without_vat_code_is_none_not_empty():
    invoice = parse_invoice(
        {
            **INVOICE,
            "invoiceLines": [
                {
                    "financialAccount": {"accountNumber": "7740", "externalTaxCode": " "},
                    "unitPrice": 0.4,
                    "amountExcludingVat": 0.4,
                }
            ],
        }
    )
    assert invoice.lines[0].vat_code is None
    assert invoice.lines[0].vat_amount_ore == 0


def test_invoice_without_customer_is_rejected_naming_the_field():
    with pytest.raises(ValidationError) as exc:
        Invoice.model_validate({"id": 1})
    assert exc.value.errors()[0]["loc"] == ("customer",)


def test_project_fields_and_states():
    project = Project.model_validate(
        {
            "id": 62788980,
            "projectNumber": 1,
            "name": "Nettbutikk",
            "customer": {"id": 3, "customerNumber": "10001"},
            "startDate": None,
            "endDate": "2025-06-30",
            "projectState": "inProgress",
            "lastModifiedDate": "2025-01-02T08:00:00+01:00",
        }
    )
    assert project.project_number == "1" and project.start_date is None
    assert project.customer.customer_number == "10001"
    assert not project.completed
    assert Project.model_validate({"id": 1, "name": "x", "projectState": "COMPLETED"}).completed
    assert Project.model_validate({"id": 1, "name": "x", "customerId": 4}).customer.id == 4


def test_customer_active_state():
    assert Customer.model_validate({"id": 1, "name": "A"}).active
    assert not Customer.model_validate({"id": 1, "name": "A", "customerState": "INACTIVE"}).active
    assert Customer.model_validate(
        {"id": 1, "name": "A", "address": "Storgata 1", "address2": None}
    ).address_lines == ["Storgata 1"]


def test_page_model_reads_spring_pages_and_bare_lists():
    page = Page[Customer].model_validate(
        {
            "content": [{"id": 1, "name": "A"}],
            "page": {"number": 0, "size": 1, "totalElements": 3, "totalPages": 3},
        }
    )
    assert page.content[0].name == "A" and not page.is_last
    assert page.page.total_elements == 3
    bare = Page[Customer].model_validate([{"id": 1, "name": "A"}])
    assert bare.is_last and bare.page.total_pages == 1
    empty = Page[Customer].model_validate(
        {"content": [], "page": {"number": 5, "size": 1, "totalElements": 3, "totalPages": 9}}
    )
    assert empty.is_last
