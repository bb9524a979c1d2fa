# ruff: noqa: F811 - the fixtures are imported by name
"""Attack on #21's period-lock check: it is a GET before booking, so a lock set between the check and
the booking (an accountant closing the month at that moment) is met by the platform itself. The
product must then fail the event permanently with the platform's reason (naming the date and the
lock), book nothing and never retry-loop; a replay after the period is opened books once."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from emulators.moment.fixtures import make_line
from momentsync.connectors.sparebank1.connector import SpareBank1Connector
from momentsync.sync.transfer_log import Outcome
from tests.integration.sparebank1_fixtures import (  # noqa: F401 - fixtures
    make_sb1_pipeline,
    sparebank1_app,
    sparebank1_emulator,
)


def test_a_lock_set_between_the_check_and_the_booking_fails_with_the_platforms_reason(
    make_sb1_pipeline, monkeypatch
):
    pipeline = make_sb1_pipeline()
    company = pipeline.sb1.company(pipeline.company_key)
    checked = SpareBank1Connector._check_period_open

    def check_then_lock(self, invoice):
        checked(self, invoice)  # open when checked ...
        with pipeline.sb1.lock:  # ... and locked before the booking arrives
            next(iter(company.tables["CompanySettings"].values()))["AccountingLockedDate"] = "2025-03-31"

    monkeypatch.setattr(SpareBank1Connector, "_check_period_open", check_then_lock)
    customer = pipeline.driver.create_customer(name="Fjordlys AS", customer_number="100131")
    invoice = pipeline.driver.finalize_invoice(
        customer=customer.id,
        lines=[make_line("3000", 1, Decimal(1000), description="Timer")],
        invoice_date=date(2025, 3, 3),
    )
    pipeline.settle()
    assert pipeline.records("journalentries") == []
    entry = pipeline.last("invoice", invoice.id)
    assert entry.outcome is Outcome.FAILED
    assert "refused the voucher" in entry.reason and "locked period" in entry.reason
    assert "2025-03-03" in entry.reason and "AccountingLockedDate" in entry.reason
