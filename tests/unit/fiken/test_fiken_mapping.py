"""Fiken mapping rules that must be exact: credit note texts, full vs partial credits, sale credits,
references, and the totals check per group."""

from __future__ import annotations

from datetime import date

import pytest

from emulators.moment.fixtures import make_line
from momentsync.connectors.credits import over_credit_reason
from momentsync.connectors.fiken import mapping
from momentsync.connectors.fiken.mapping import is_credit_note_text_of
from momentsync.moment.models import CustomerRef, Invoice, InvoiceRef
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
