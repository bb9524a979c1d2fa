"""Fiken mapping rules that must be exact (pure functions, no client): contacts and the fields Moment
owns, projects, line grouping to the øre, invoice/sale/credit requests, foreign currency, credit note
texts, full vs partial credits, sale credits, references, and the totals check per group."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from emulators.moment.fixtures import make_line
from momentsync.connectors.credits import over_credit_reason
from momentsync.connectors.fiken import mapping
from momentsync.connectors.fiken.mapping import is_credit_note_text_of
from momentsync.connectors.fiken.models import ContactLanguage
from momentsync.errors import PermanentError
from momentsync.moment.models import Customer, CustomerRef, Invoice, InvoiceRef, Project
from momentsync.ports import InvoiceTotals
from momentsync.sync.totals import totals_differences
from momentsync.tenants import MappingSettings


def test_a_credit_note_text_names_exactly_one_moment_credit_note() -> None:
    assert is_credit_note_text_of("Moment-kreditnota 2", 2)
    assert not is_credit_note_text_of("Moment-kreditnota 23", 2)
    assert not is_credit_note_text_of(None, 2)


# ---------------------------------------------------------------- credit notes, references, totals


def moment_invoice(lines, **fields) -> Invoice:
    values = {
        "id": 9,
        "invoice_number": 20002,
        "customer": CustomerRef(id=7, customer_number="100123", name="Fjordlys AS"),
        "invoice_date": date(2025, 3, 1),
        "lines": lines,
    }
    return Invoice(**{**values, **fields})


def split(invoice: Invoice) -> mapping.Split:
    return mapping.split_of(mapping.group_lines(invoice, MappingSettings(), vat_registered=True))


def test_full_credit_only_when_the_credit_mirrors_the_original_account_vat_type_net_and_vat() -> None:
    original = moment_invoice([make_line("3000", 1, 1000, description="Timer")])
    mirrored = moment_invoice([make_line("3000", -1, 1000, description="Timer")], id=10)
    # Same gross (-1250.00) at 15 % on 3030: a full credit note would book the original's 25 % line.
    other_rate = moment_invoice([make_line("3030", -1, "1086.96", description="Servering")], id=11)
    assert other_rate.total_incl_vat_ore == -original.total_incl_vat_ore
    assert mapping.mirrors(split(mirrored), split(original))
    assert not mapping.mirrors(split(other_rate), split(original))
    assert not mapping.mirrors(split(mirrored), {})


def test_over_crediting_is_refused_with_the_amounts() -> None:
    credit = moment_invoice([make_line("3000", -3, 1000, description="Timer")], credit_note=True)
    assert over_credit_reason(credit, "10005", 500000, 125000) is None
    reason = over_credit_reason(credit, "10005", 500000, 250000)
    assert reason is not None
    assert "credits 375000 øre" in reason and "250000 øre of 500000 øre" in reason and "10005" in reason


def test_a_sale_credit_names_the_sale_it_credits_on_every_line() -> None:
    credit = moment_invoice(
        [make_line("3000", -1, 1000, description="Timer"), make_line("3050", -1, 100, description="Reise")],
        credit_note=True,
        credited_invoice=InvoiceRef(id=1, invoice_number=2),
        payment_id=None,
    )
    groups = mapping.group_lines(credit, MappingSettings(), vat_registered=True)
    request = mapping.sale_credit_request(credit, groups, credited_number="2", customer_id=5, project_id=None)
    assert [line.net_price for line in request.lines] == [-100000, -10000]
    assert [line.vat for line in request.lines] == [-25000, -1200]
    assert request.sale_number == "20002"
    descriptions = [line.description for line in request.lines]
    assert mapping.is_sale_credit_of(descriptions, "2")
    assert not mapping.is_sale_credit_of(descriptions, "23")
    assert not mapping.is_sale_credit_of(["Kreditnota for Moment-faktura 23: x"], "2")


def test_references_reach_the_fields_and_the_text_where_there_is_no_field() -> None:
    invoice = moment_invoice(
        [make_line("3000", 1, 1000, description="Timer")],
        your_reference="Kari Nordmann",
        our_reference="Ola",
        their_reference="PO 7781",
    )
    groups = mapping.group_lines(invoice, MappingSettings(), vat_registered=True)
    request = mapping.invoice_request(
        "t-1", invoice, groups, customer_id=5, project_id=None, bank_account_code="1920:10001"
    )
    assert (request.your_reference, request.our_reference) == ("Kari Nordmann", "Ola")
    assert "Kundens ref. PO 7781" in request.invoice_text and "Kari" not in request.invoice_text
    sale = mapping.sale_request(invoice, groups, customer_id=5, project_id=None)
    assert sale.lines[0].description.startswith(
        "Deres ref. Kari Nordmann, Vår ref. Ola, Kundens ref. PO 7781"
    )


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        (InvoiceTotals(-100000, -25000, -125000, {"account 3000 HIGH": (-100000, -25000)}), 3),
        (InvoiceTotals(-108696, -16304, -125000, {"account 3030 MEDIUM": (-108696, -16304)}), 0),
    ],
)
def test_totals_are_compared_per_group_with_both_figures(target, expected) -> None:
    moment = InvoiceTotals(-108696, -16304, -125000, {"account 3030 MEDIUM": (-108696, -16304)})
    problems = totals_differences(moment, target)
    # Same gross: net, VAT and the two groups differ (net+VAT listed once, groups once each).
    assert len(problems) == (expected + 1 if expected else 0)
    if problems:
        text = "; ".join(problems)
        assert "Moment -108696 øre net, target -100000 øre" in text
        assert "account 3030 MEDIUM: Moment net -108696 / VAT -16304 øre, target net 0 / VAT 0 øre" in text
        assert "account 3000 HIGH: Moment net 0 / VAT 0 øre, target net -100000 / VAT -25000 øre" in text
        assert "incl. VAT" not in text  # the gross is right


def test_nok_at_the_targets_rate_is_a_difference_with_both_figures() -> None:
    moment = InvoiceTotals(12000, 0, 12000, gross_nok=137550)
    assert totals_differences(moment, InvoiceTotals(12000, 0, 12000, gross_nok=138252)) == [
        "in NOK: Moment 137550 øre at Moment's exchange rate, target 138252 øre at its own rate"
    ]
    assert totals_differences(moment, InvoiceTotals(12000, 0, 12000)) == []


# ---------------------------------------------------------------- contacts


def moment_customer(**fields) -> Customer:
    values = {"id": 7, "name": "Fjordlys AS", "customer_number": "100123"}
    return Customer(**{**values, **fields})


def test_the_contact_is_found_again_by_moments_customer_number_or_its_id():
    assert mapping.contact_from_customer(moment_customer()).member_number_string == "100123"
    assert (
        mapping.contact_from_customer(moment_customer(customer_number=None)).member_number_string
        == "moment-7"
    )


def test_the_contact_takes_the_invoice_email_first_and_the_organisation_number_as_digits():
    contact = mapping.contact_from_customer(
        moment_customer(
            email="post@fjordlys.example",
            invoice_email="faktura@fjordlys.example",
            organization_number="923 609 016 MVA",
            phone=" +47 22 33 44 55 66 77 88 99 00 ",
            currency_code="eur",
        )
    )
    assert (contact.email, contact.organization_number) == ("faktura@fjordlys.example", "923609016")
    assert contact.phone_number == "+47 22 33 44 55 66 7"  # Fiken's 20 characters, trimmed first
    assert (contact.currency, contact.customer) == ("EUR", True)
    assert mapping.contact_from_customer(moment_customer(email="post@x.example")).email == "post@x.example"


@pytest.mark.parametrize(
    ("code", "language"),
    [
        ("nb", ContactLanguage.NORWEGIAN),
        ("Norsk", ContactLanguage.NORWEGIAN),
        ("en", ContactLanguage.ENGLISH),
        ("de", None),
        (None, None),
    ],
)
def test_only_the_languages_fiken_knows_are_sent(code, language):
    assert mapping.contact_from_customer(moment_customer(language=code)).language == language


def test_the_address_carries_fikens_country_name_and_none_is_sent_without_one():
    contact = mapping.contact_from_customer(
        moment_customer(street="Kaiveien 1", post_code="5003", city="Bergen", country_code="se")
    )
    assert (contact.address.street_address, contact.address.country) == ("Kaiveien 1", "Sweden")
    assert mapping.contact_from_customer(moment_customer(city="Bergen")).address.country == "Norway"
    assert mapping.contact_from_customer(moment_customer()).address is None


def test_an_inactive_moment_customer_is_an_inactive_contact():
    assert mapping.contact_from_customer(moment_customer(customer_state="inactive")).inactive is True
    assert mapping.contact_from_customer(moment_customer(customer_state="active")).inactive is False


def test_on_update_only_the_fields_moment_sent_replace_fikens():
    customer = Customer.model_validate(
        {"id": 7, "name": "Fjordlys AS", "customerNumber": "100123", "phone": "22"}
    )
    owned = mapping.owned_contact_fields(mapping.contact_from_customer(customer), customer)
    assert owned["phone_number"] == "22" and owned["name"] == "Fjordlys AS"
    # Not sent: unknown, not empty; Fiken's e-mail, address and organisation number stay.
    assert not {"email", "address", "organization_number", "currency"} & set(owned)


# ---------------------------------------------------------------- projects


def test_a_project_needs_a_number_and_a_start_date_in_fiken():
    good = Project(
        id=3, project_number="P3", name="Ny kai", start_date=date(2026, 1, 5), project_state="completed"
    )
    request = mapping.project_request(good, contact_id=55)
    assert (request.number, request.contact_id, request.completed) == ("P3", 55, True)
    assert mapping.project_update(request).name == "Ny kai"
    with pytest.raises(PermanentError, match="no project number"):
        mapping.project_request(good.model_copy(update={"project_number": None}), None)
    with pytest.raises(PermanentError, match="P3 has no start date"):
        mapping.project_request(good.model_copy(update={"start_date": None}), None)


# ---------------------------------------------------------------- invoice lines


def test_lines_are_grouped_per_account_and_vat_type_with_moments_own_ore():
    invoice = moment_invoice(
        [
            make_line("3000", "7.5", 1250, description="Timer"),
            make_line("3000", 2, "99.99", description="Timer"),
            make_line("3030", 1, 200, description="Servering"),
            make_line("3100", 1, 500, description="Fritatt"),
        ]
    )
    groups = mapping.group_lines(invoice, MappingSettings(), vat_registered=True)
    assert [(g.account, g.vat_type, g.net, g.vat) for g in groups] == [
        ("3000", "HIGH", 937500 + 19998, 234375 + 5000),
        ("3030", "MEDIUM", 20000, 3000),
        ("3100", "EXEMPT", 50000, 0),
    ]
    assert groups[0].description == "Timer"  # the same text once


def test_a_line_whose_rounded_vat_would_change_the_group_starts_its_own_line():
    # 1 øre at 25 % is 0 øre VAT per line; merged, 2 øre would give 1 øre VAT: Fiken would book 1.
    invoice = moment_invoice(
        [make_line("3000", 1, "0.01", description="a"), make_line("3000", 1, "0.01", description="b")]
    )
    groups = mapping.group_lines(invoice, MappingSettings(), vat_registered=True)
    assert [(g.net, g.vat) for g in groups] == [(1, 0), (1, 0)]
    assert sum(g.vat for g in groups) == invoice.total_vat_ore


def test_outside_the_vat_register_every_line_is_outside_and_carries_no_vat():
    invoice = moment_invoice([make_line("3000", 1, 1000, description="Timer")])
    [group] = mapping.group_lines(invoice, MappingSettings(), vat_registered=False)
    assert (group.vat_type, group.net, group.vat) == ("OUTSIDE", 100000, 0)


def test_account_and_vat_code_overrides_are_applied():
    invoice = moment_invoice([make_line("3000", 1, 1000, description="Timer")])
    settings = MappingSettings(account_overrides={"3000": "3010"})
    [group] = mapping.group_lines(invoice, settings, vat_registered=True)
    assert (group.account, group.vat_type) == ("3010", "HIGH")


def test_lines_without_a_sales_account_or_no_lines_at_all_are_refused_with_the_fix():
    no_account = make_line("3000", 1, 1000, description="Reise").model_copy(
        update={"financial_account": None}
    )
    with pytest.raises(PermanentError, match="has no sales account in Moment \\('Reise'\\)"):
        mapping.group_lines(moment_invoice([no_account]), MappingSettings(), vat_registered=True)
    with pytest.raises(PermanentError, match="20002 has no lines"):
        mapping.group_lines(moment_invoice([]), MappingSettings(), vat_registered=True)


def test_a_long_description_is_cut_to_fikens_200_characters():
    invoice = moment_invoice(
        [make_line("3000", 1, 10, description=f"linje {n} " + "x" * 40) for n in range(6)]
    )
    [group] = mapping.group_lines(invoice, MappingSettings(), vat_registered=True)
    assert len(group.description) == 200 and group.description.endswith("...")


# ---------------------------------------------------------------- invoice and sale requests


def test_the_invoice_request_books_moments_figures_with_a_stable_uuid_and_its_natural_key():
    invoice = moment_invoice(
        [make_line("3000", "7.5", 1250, description="Timer")], payment_id="200024", due_date=None
    )
    groups = mapping.group_lines(invoice, MappingSettings(), vat_registered=True)
    request = mapping.invoice_request(
        "t-1", invoice, groups, customer_id=5, project_id=8, bank_account_code="1920:10001"
    )
    [line] = request.lines
    assert (line.net, line.vat, line.gross, line.unit_price, line.quantity) == (
        937500,
        234375,
        1171875,
        937500,
        1,
    )
    assert (request.order_reference, request.due_date, request.project_id) == ("20002", date(2025, 3, 1), 8)
    assert request.invoice_text == "Moment-faktura 20002 - KID 200024"
    assert request.uuid == mapping.invoice_uuid("t-1", invoice)
    assert mapping.invoice_uuid("t-1", invoice) != mapping.invoice_uuid("t-2", invoice)


def test_a_foreign_currency_sale_books_nok_at_moments_rate_and_keeps_the_currency_amounts():
    invoice = moment_invoice(
        [make_line("3000", 1, 100, description="Timer")],
        currency_code="EUR",
        currency_rate=Decimal("11.4625"),
    )
    groups = mapping.group_lines(invoice, MappingSettings(), vat_registered=True)
    [line] = mapping.sale_request(invoice, groups, customer_id=5, project_id=None).lines
    assert (line.net_price_in_currency, line.vat_in_currency) == (10000, 2500)
    assert (line.net_price, line.vat) == (114625, 28656)  # 28656.25 rounded half up


def test_conversion_to_nok_rounds_half_away_from_zero_for_credits_too():
    assert mapping.to_nok(1, Decimal("0.5")) == 1
    assert mapping.to_nok(-1, Decimal("0.5")) == -1
    assert mapping.to_nok(-3, Decimal("1.5")) == -5


def test_a_partial_credit_note_has_moments_lines_as_positive_prices():
    credit = moment_invoice(
        [make_line("3000", -1, 1000, description="Timer"), make_line("3030", -1, 100, description="Mat")],
        credit_note=True,
        credited_invoice=InvoiceRef(id=1, invoice_number=20001),
    )
    request = mapping.partial_credit_note(
        credit, MappingSettings(), vat_registered=True, invoice_id=77, customer_id=5, project_id=None
    )
    assert [(li.unit_price, li.vat_type, li.income_account) for li in request.lines] == [
        (100000, "HIGH", "3000"),
        (10000, "MEDIUM", "3030"),
    ]
    assert request.credit_note_text == "Moment-kreditnota 20002"
    assert mapping.is_credit_note_text_of(request.credit_note_text, 20002)


def test_zero_groups_are_left_out_of_what_a_document_books():
    invoice = moment_invoice(
        [
            make_line("3000", 1, 1000, description="a"),
            make_line("3000", -1, 1000, description="b"),
            make_line("3030", 1, 100, description="c"),
        ]
    )
    split = mapping.split_of(mapping.group_lines(invoice, MappingSettings(), vat_registered=True))
    assert split == {("3030", "MEDIUM"): (10000, 1500)}
