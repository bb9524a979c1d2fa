"""SpareBank 1 mapping: pure rules (numbers, guids, transitions, voucher shape and signs, øre <-> kroner)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest

from emulators.moment.fixtures import make_line
from momentsync.connectors.sparebank1 import mapping
from momentsync.connectors.sparebank1.models import (
    PROJECT_COMPLETED,
    PROJECT_IN_PROGRESS,
    PROJECT_REGISTERED,
    Address,
    BusinessRelation,
    Customer,
    Email,
    JournalEntryLine,
    Phone,
    VatType,
)
from momentsync.errors import PermanentError
from momentsync.moment.models import Customer as MomentCustomer
from momentsync.moment.models import CustomerRef, Invoice, InvoiceRef
from momentsync.moment.models import Project as MomentProject
from momentsync.tenants import MappingSettings


def customer(**fields) -> MomentCustomer:
    values = {"id": 7, "name": "Fjordlys AS", "customer_number": "100123", "email": "a@b.no", "phone": "22"}
    return MomentCustomer(**{**values, **fields})


def invoice(**fields) -> Invoice:
    values = {
        "id": 9,
        "invoice_number": 20002,
        "customer": CustomerRef(id=7, customer_number="100123", name="Fjordlys AS"),
        "invoice_date": date(2025, 3, 1),
        "due_date": date(2025, 3, 15),
        "payment_id": "200024",
        "invoice_state": "finalized",
        "lines": [
            make_line("3000", Decimal("7.5"), 1250, description="Timer"),
            make_line("3100", 1, 500, description="Fritatt"),
        ],
    }
    return Invoice(**{**values, **fields})


VAT = {
    "3": VatType(ID=11, VatCode="3", VatPercent=Decimal(25), OutgoingAccountID=270),
    "5": VatType(ID=14, VatCode="5", VatPercent=Decimal(0)),
}


@pytest.mark.parametrize("number", ["10001", "200000", "ABC123", "", None, "１００１２３"])
def test_customer_number_must_be_numeric_within_the_range(number):
    with pytest.raises(PermanentError, match="100000 and 199999"):
        mapping.customer_content(customer(customer_number=number))


@pytest.mark.parametrize("number", ["EM-12", "12.5", "", "1234567890"])
def test_project_number_must_be_numeric(number):
    with pytest.raises(PermanentError, match="numeric"):
        mapping.project_number(MomentProject(id=1, name="P", project_number=number))


def test_new_customer_rows_carry_deterministic_createguids():
    moment = customer(fax="23", street="Storgata 1", city="Oslo", last_modified=datetime(2025, 1, 1))
    one = mapping.customer_body("t1", moment, None, currency_id=1).new_body()
    two = mapping.customer_body("t1", moment, None, currency_id=1).new_body()
    assert one == two
    guids = [
        one["_createguid"],
        one["Info"]["_createguid"],
        one["Info"]["DefaultEmail"]["_createguid"],
        one["Info"]["DefaultPhone"]["_createguid"],
        one["Info"]["InvoiceAddress"]["_createguid"],
        one["Info"]["Phones"][0]["_createguid"],
    ]
    assert len(set(guids)) == 6
    assert one["CustomerNumber"] == 100123 and one["Info"]["Phones"][0]["Type"] == 150103
    other_tenant = mapping.customer_body("t2", moment, None, currency_id=1).new_body()
    assert other_tenant["_createguid"] != one["_createguid"]


def test_update_echoes_existing_rows_and_creates_only_missing_ones():
    fetched = Customer(
        ID=5,
        CustomerNumber=100123,
        StatusCode=30001,
        CreditDays=30,
        Info=BusinessRelation(
            ID=8,
            Name="Old",
            DefaultEmail=Email(ID=3, EmailAddress="old@b.no"),
            DefaultPhone=Phone(ID=4, Number="11", Type=150101),
            Phones=[Phone(ID=4, Number="11", Type=150101)],
        ),
    )
    body = mapping.customer_body("t1", customer(fax="23"), fetched, currency_id=None).echo_body()
    assert body["ID"] == 5 and body["CreditDays"] == 30 and "StatusCode" not in body
    assert body["Info"]["ID"] == 8 and body["Info"]["Name"] == "Fjordlys AS"
    assert body["Info"]["DefaultEmail"] == {"ID": 3, "_createguid": None, "EmailAddress": "a@b.no"}
    assert [p.get("ID") for p in body["Info"]["Phones"]] == [4, None]
    assert body["Info"]["Phones"][0]["Number"] == "22"  # the copy of the default phone says the same
    assert body["Info"]["Phones"][1]["_createguid"]


@pytest.mark.parametrize(
    ("current", "wanted", "path"),
    [
        (None, PROJECT_IN_PROGRESS, ["StartProject"]),
        (PROJECT_REGISTERED, PROJECT_COMPLETED, ["StartProject", "CompleteProject"]),
        (PROJECT_COMPLETED, PROJECT_IN_PROGRESS, ["ReactivateProject"]),
        (PROJECT_IN_PROGRESS, PROJECT_IN_PROGRESS, []),
        (PROJECT_IN_PROGRESS, PROJECT_REGISTERED, None),
    ],
)
def test_project_status_moves_only_by_transitions(current, wanted, path):
    assert mapping.project_transitions(current, wanted) == path


@pytest.mark.parametrize(
    ("kid", "number"), [("200024", "200024"), (None, "20002"), ("1001230200029", "20002"), ("0000", "20002")]
)
def test_voucher_number_from_kid_else_invoice_number(kid, number):
    assert mapping.voucher_number(invoice(payment_id=kid)) == number


def test_voucher_balances_with_gross_sales_legs_and_keeps_moment_numbers():
    moment = invoice()
    lines = mapping.sales_lines(moment, MappingSettings())
    for line in lines:
        mapping.check_vat(moment, line, VAT.get(line.vat_code))
    entry = mapping.voucher(
        "t1",
        moment,
        lines,
        customer_account_id=500,
        sales_accounts={"3000": 300, "3100": 310},
        vat_types=VAT,
        project_id=12,
        customer_name="Fjordlys AS",
        credited_voucher=None,
    )
    drafts = entry.DraftLines
    assert entry.JournalEntryNumber == "200024"
    assert [d.Amount for d in drafts] == [Decimal("12218.75"), Decimal("-11718.75"), Decimal("-500.00")]
    assert sum(d.Amount for d in drafts) == 0
    assert {(d.InvoiceNumber, d.PaymentID) for d in drafts} == {("20002", "200024")}
    assert [d.VatTypeID for d in drafts] == [None, 11, 14]
    assert drafts[1].Description == "Timer (7.5 x 1250)"
    assert {d.Dimensions.ProjectID for d in drafts} == {12}
    assert len({d.Dimensions.createguid for d in drafts}) == 3


def test_credit_note_reverses_signs_and_names_the_original():
    original = invoice()
    credit = invoice(
        id=10,
        invoice_number=20003,
        payment_id=None,
        credit_note=True,
        credited_invoice=InvoiceRef(id=9, invoice_number=20002),
        lines=[
            line.model_copy(
                update={
                    "quantity": -line.quantity,
                    "amount_excl_vat": -line.amount_excl_vat,
                    "vat_amount": -line.vat_amount,
                }
            )
            for line in original.lines
        ],
    )
    lines = mapping.sales_lines(credit, MappingSettings())
    entry = mapping.voucher(
        "t1",
        credit,
        lines,
        customer_account_id=500,
        sales_accounts={"3000": 300, "3100": 310},
        vat_types=VAT,
        project_id=None,
        customer_name=None,
        credited_voucher="200024-2025",
    )
    assert entry.DraftLines[0].Amount == Decimal("-12218.75")
    assert entry.Description == "Kreditnota 20003 for faktura 20002 (bilag 200024-2025)"


def test_vat_that_the_platform_would_split_differently_is_refused():
    moment = invoice()
    [line, _] = mapping.sales_lines(moment, MappingSettings())
    with pytest.raises(PermanentError, match="VAT code"):
        mapping.check_vat(moment, line, VAT["5"])


def test_foreign_currency_and_empty_invoices_are_permanent_errors():
    with pytest.raises(PermanentError, match="only NOK"):
        mapping.sales_lines(invoice(currency_code="EUR"), MappingSettings())
    with pytest.raises(PermanentError, match="no lines"):
        mapping.sales_lines(invoice(lines=[]), MappingSettings())


def test_totals_from_booked_lines_in_ore():
    lines = [
        JournalEntryLine(AccountID=150, SubAccountID=500, Amount=Decimal("12218.75")),
        JournalEntryLine(AccountID=300, Amount=Decimal("-9375.00")),
        JournalEntryLine(AccountID=270, Amount=Decimal("-2343.75")),
        JournalEntryLine(AccountID=310, Amount=Decimal("-500.00")),
    ]
    totals = mapping.voucher_totals(lines, {270})
    assert (totals.net, totals.vat, totals.gross) == (987500, 234375, 1221875)
    assert mapping.to_kroner(-1) == Decimal("-0.01") and mapping.to_ore(Decimal("-0.005")) == -1


def test_fields_moment_did_not_send_keep_the_platforms_values():
    # Moment sent only a name (its other names unknown to us): nothing else on the customer is erased.
    fetched = Customer(
        ID=5,
        CustomerNumber=100123,
        OrgNumber="912345670",
        WebUrl="https://acme.no",
        Info=BusinessRelation(
            ID=8,
            Name="Old",
            DefaultEmail=Email(ID=3, EmailAddress="old@b.no"),
            DefaultPhone=Phone(ID=4, Number="11", Type=150101),
            InvoiceAddress=Address(
                ID=6, AddressLine1="Gata 1", PostalCode="0150", City="Oslo", CountryCode="NO"
            ),
        ),
    )
    sparse = MomentCustomer.model_validate({"id": 7, "customerNumber": "100123", "name": "Fjordlys AS"})
    body = mapping.customer_body("t1", sparse, fetched, currency_id=None).echo_body()
    assert body["OrgNumber"] == "912345670" and body["WebUrl"] == "https://acme.no"
    assert body["Info"]["Name"] == "Fjordlys AS"
    assert body["Info"]["DefaultEmail"]["EmailAddress"] == "old@b.no"
    assert body["Info"]["DefaultPhone"]["Number"] == "11"
    address = body["Info"]["InvoiceAddress"]
    assert (address["AddressLine1"], address["PostalCode"], address["City"]) == ("Gata 1", "0150", "Oslo")
    renamed = MomentCustomer.model_validate(
        {**sparse.model_dump(by_alias=True, exclude_unset=True), "zipCode": "0151", "orgNumber": "1"}
    )
    body = mapping.customer_body("t1", renamed, fetched, currency_id=None).echo_body()
    assert body["Info"]["InvoiceAddress"]["PostalCode"] == "0151" and body["OrgNumber"] == "1"
    assert body["Info"]["InvoiceAddress"]["City"] == "Oslo"


def test_moments_invoice_description_reaches_the_voucher_text():
    described = invoice(description="Rådgivning mars")
    assert (
        mapping.invoice_text(described, "Fjordlys AS", None) == "Faktura 20002 Fjordlys AS - Rådgivning mars"
    )
    assert mapping.invoice_text(invoice(description=None), "Fjordlys AS", None) == "Faktura 20002 Fjordlys AS"
    assert len(mapping.invoice_text(invoice(description="x" * 500), None, None)) == 200


def test_totals_per_vat_code_from_sales_and_vat_legs():
    lines = [
        JournalEntryLine(AccountID=150, SubAccountID=500, Amount=Decimal("1375.00")),
        JournalEntryLine(AccountID=300, Amount=Decimal("-1000.00"), VatTypeID=3),
        JournalEntryLine(AccountID=270, Amount=Decimal("-250.00"), VatTypeID=3),
        JournalEntryLine(AccountID=310, Amount=Decimal("-125.00"), VatTypeID=6),
    ]
    totals = mapping.voucher_totals(lines, {270}, {3: "3", 6: "6"})
    assert totals.groups == {"VAT code 3": (100000, 25000), "VAT code 6": (12500, 0)}
    expected = mapping.expected_totals(
        invoice(lines=[make_line("3000", 1, 1000, description="Timer")]),
        [
            mapping.SalesLine("3000", "3", "Timer", 100000, 25000),
            mapping.SalesLine("3100", "6", "x", 12500, 0),
        ],
    )
    assert expected.groups == totals.groups


def test_a_zero_total_voucher_has_no_receivable_leg_and_balances():
    zero = invoice(
        lines=[
            make_line("3000", 1, 500, description="Timer"),
            make_line("3000", -1, 500, description="Rabatt"),
        ]
    )
    lines = mapping.sales_lines(zero, MappingSettings())
    entry = mapping.voucher(
        "t-1",
        zero,
        lines,
        customer_account_id=500,
        sales_accounts={"3000": 300},
        vat_types={},
        project_id=None,
        customer_name="Fjordlys AS",
        credited_voucher=None,
    )
    assert [draft.AccountID for draft in entry.DraftLines] == [300, 300]
    assert sum(draft.Amount for draft in entry.DraftLines) == 0


def test_credit_lines_are_recognised_by_the_invoice_they_credit_and_references_go_in_the_text():
    assert mapping.credits_invoice("Kreditnota 20003 for faktura 20002 (bilag 7-2025) Fjordlys AS", 20002)
    assert not mapping.credits_invoice("Kreditnota 20003 for faktura 200021", 20002)
    assert not mapping.credits_invoice("Faktura 20002", 20002)
    assert mapping.credits_invoice("Kreditnota 20003 (bilag 7-2025) Fjordlys AS", None, "7-2025")
    assert not mapping.credits_invoice("Kreditnota 20003 (bilag 17-2025) Fjordlys AS", None, "7-2025")
    assert not mapping.credits_invoice("Faktura 20003 (bilag 7-2025)", None, "7-2025")
    text = mapping.invoice_text(
        invoice(your_reference="Kari", their_reference="PO 7781"), "Fjordlys AS", None
    )
    assert text == "Faktura 20002 Fjordlys AS - Deres ref. Kari, Kundens ref. PO 7781"


# ---------------------------------------------------------------- more rules (issue #17's test pyramid)


def test_moment_states_map_to_the_status_we_steer_to_and_unknown_states_leave_it():
    def status(state):
        return mapping.wanted_project_status(
            MomentProject(id=3, name="Kai", project_number="3", project_state=state)
        )

    assert (status("In progress"), status("On hold"), status("Completed")) == (
        PROJECT_IN_PROGRESS,
        PROJECT_IN_PROGRESS,
        PROJECT_COMPLETED,
    )
    assert status("something new") is None and status(None) is None
    # Unknown state: no transition at all, whatever the platform's status is.
    assert mapping.project_transitions(PROJECT_COMPLETED, None) == []


def test_a_reopened_project_is_reactivated_not_started_again():
    assert mapping.project_transitions(PROJECT_COMPLETED, PROJECT_IN_PROGRESS) == ["ReactivateProject"]
    assert mapping.project_transitions(None, PROJECT_COMPLETED) == ["StartProject", "CompleteProject"]


def test_project_content_and_body_carry_the_numeric_number_and_keep_the_platforms_other_fields():
    moment_project = MomentProject(
        id=3, name="Ny kai", project_number=" 42 ", start_date=date(2026, 1, 5), project_state="active"
    )
    content = mapping.project_content(moment_project, customer_id=11)
    assert content == {
        "ProjectNumber": "42",
        "Name": "Ny kai",
        "ProjectCustomerID": 11,
        "StartDate": "2026-01-05",
        "EndDate": None,
        "Status": PROJECT_IN_PROGRESS,
    }
    existing = mapping.project_body(moment_project, None, 11)
    existing.StatusCode = PROJECT_COMPLETED  # moved by transitions only, never by the body
    body = mapping.project_body(moment_project.model_copy(update={"name": "Ny kai 2"}), existing, 12)
    assert (body.Name, body.ProjectNumberNumeric, body.ProjectCustomerID) == ("Ny kai 2", 42, 12)
    assert body.StatusCode == PROJECT_COMPLETED
    assert existing.Name == "Ny kai"  # the platform's copy is not changed in place


def test_createguids_are_stable_per_record_and_version_and_differ_across_tenants():
    guid = mapping.createguid("t-1", "customer", 7, "info")
    assert guid == mapping.createguid("t-1", "customer", 7, "info")
    assert (
        len(
            {
                guid,
                mapping.createguid("t-2", "customer", 7, "info"),
                mapping.createguid("t-1", "customer", 7, "info", "v2"),
            }
        )
        == 3
    )


def test_a_voucher_is_found_by_its_number_or_the_platforms_number_dash_year():
    assert mapping.voucher_matches(JournalEntryLine(JournalEntryNumber="200024-2025"), "200024")
    assert mapping.voucher_matches(JournalEntryLine(JournalEntryNumber=" 200024 "), "200024")
    assert not mapping.voucher_matches(JournalEntryLine(JournalEntryNumber="2000245-2025"), "200024")
    assert not mapping.voucher_matches(JournalEntryLine(JournalEntryNumber=None), "200024")


@pytest.mark.parametrize("ore", [0, 1, -1, 99, -12345, 117187500])
def test_ore_survive_the_trip_through_kroner(ore):
    assert mapping.to_ore(mapping.to_kroner(ore)) == ore
    assert mapping.to_kroner(ore) == Decimal(ore) / 100


def test_the_external_reference_names_tenant_and_moment_invoice_id():
    assert mapping.external_reference("acme", invoice()) == "acme:invoice:9"
