# ruff: noqa: F811 - the fixtures are imported by name
"""SpareBank 1 Regnskap: locked accounts, booking answers as the published description has them (#21)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from emulators.moment.fixtures import make_line
from momentsync.sync.transfer_log import Outcome
from tests.integration.sparebank1_fixtures import (  # noqa: F401 - fixtures
    make_sb1_pipeline,
    sparebank1_app,
    sparebank1_emulator,
)


@pytest.mark.parametrize("flag", ["LockManualPosts", "Locked"])
def test_a_locked_sales_account_fails_naming_the_account_and_the_fix(make_sb1_pipeline, flag):
    pipeline = make_sb1_pipeline()
    company = pipeline.sb1.company(pipeline.company_key)
    with pipeline.sb1.lock:
        for row in company.tables["Account"].values():
            if row.get("AccountNumber") == 3000:
                row[flag] = True
    customer = pipeline.driver.create_customer(name="Fjordlys AS", customer_number="100123")
    invoice = pipeline.driver.finalize_invoice(
        customer=customer.id,
        lines=[make_line("3000", 1, Decimal(1000), description="Timer")],
        invoice_date=date(2025, 3, 3),
    )
    pipeline.settle()
    assert pipeline.records("journalentries") == []
    entry = pipeline.last("invoice", invoice.id)
    assert entry.outcome is Outcome.FAILED
    assert "account 3000 is locked" in entry.reason and "--account 3000=OTHER" in entry.reason


@pytest.mark.parametrize("answer", ["object", "empty", "list"])
def test_a_booking_answer_without_the_voucher_id_still_books_exactly_once(make_sb1_pipeline, answer):
    # unimicro-biz-swagger.json declares book-journal-entries' answer as a bare object.
    pipeline = make_sb1_pipeline()
    pipeline.sb1.booking_answer = answer
    try:
        customer = pipeline.driver.create_customer(name="Fjordlys AS", customer_number="100124")
        invoice = pipeline.driver.finalize_invoice(
            customer=customer.id,
            lines=[make_line("3000", 1, Decimal(1000), description="Timer")],
            invoice_date=date(2025, 3, 3),
        )
        pipeline.settle()
    finally:
        pipeline.sb1.booking_answer = "object"
    [entry] = pipeline.records("journalentries")
    assert pipeline.last("invoice", invoice.id).outcome is Outcome.SYNCED
    assert pipeline.link("invoice", invoice.id).remote_id == str(entry["ID"])
