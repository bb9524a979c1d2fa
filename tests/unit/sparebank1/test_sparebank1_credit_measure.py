"""What is left on a credited voucher, measured from the customer's sub-ledger before a credit is booked."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from emulators.moment.fixtures import make_line
from momentsync.connectors.sparebank1.connector import SpareBank1Connector
from momentsync.errors import PermanentError
from momentsync.moment.models import CustomerRef, Invoice, InvoiceRef
from momentsync.ports import InvoiceParties, RemoteRecord
from momentsync.tenants import TargetSystem, Tenant

CUSTOMER_ACCOUNT = 500
ORIGINAL_ENTRY = 41


class SubLedgerOnly:
    """Stands in for SpareBank1Client where the measure reads: the customer's account and journal lines."""

    requests_sent = 0

    def __init__(self, journal_lines: list[dict[str, Any]]) -> None:
        self.journal_lines = journal_lines

    def find(self, route: str, filter: str, match: Any, **query: Any) -> list[dict[str, Any]]:  # noqa: A002
        if route == "accounts":
            return [{"ID": CUSTOMER_ACCOUNT, "AccountNumber": 200001, "CustomerID": 3}]
        assert route == "journalentrylines"
        return [row for row in self.journal_lines if match(row)]


def tenant() -> Tenant:
    now = datetime.now(UTC)
    return Tenant(
        tenant_id="fjordlys",
        name="Fjordlys AS",
        target=TargetSystem.SPAREBANK1,
        moment_company_code="fjordlys",
        webhook_secret_hash="0" * 64,
        created_at=now,
        updated_at=now,
    )


def credit_note(kroner: int | Decimal) -> Invoice:
    return Invoice(
        id=12,
        invoice_number=20003,
        customer=CustomerRef(id=7, customer_number="100123", name="Fjordlys AS"),
        invoice_date=date(2025, 3, 5),
        due_date=date(2025, 3, 19),
        invoice_state="finalized",
        credit_note=True,
        credited_invoice=InvoiceRef(id=9, invoice_number=20002),
        lines=[make_line("3100", -1, kroner, description="Lisens")],
    )


def parties() -> InvoiceParties:
    return InvoiceParties(
        customer=RemoteRecord("3", "100123"),
        credited=RemoteRecord(str(ORIGINAL_ENTRY), "7-2025", {"kind": "invoice", "voucher": "7-2025"}),
    )


def receivable(amount: str | None, **fields: Any) -> dict[str, Any]:
    return {
        "JournalEntryID": ORIGINAL_ENTRY,
        "JournalEntryNumber": "7-2025",
        "SubAccountID": CUSTOMER_ACCOUNT,
        "Amount": amount,
        "InvoiceNumber": "20002",
        **fields,
    }


def test_a_sub_ledger_line_without_an_amount_counts_as_nothing_left_to_credit():
    """Found by mypy: ``line.Amount or 0`` handed the int 0 to to_ore, whose Decimal.quantize crashed
    (AttributeError) instead of measuring the line as zero."""
    connector = SpareBank1Connector(tenant(), SubLedgerOnly([receivable("1000.00"), receivable(None)]))

    connector._refuse_over_credit(credit_note(400), parties())  # 400 kr of 1000 kr: fits

    with pytest.raises(PermanentError, match="20003"):
        connector._refuse_over_credit(credit_note(1200), parties())  # more than the 1000 kr booked


def test_one_ore_more_than_is_left_is_refused():
    connector = SpareBank1Connector(tenant(), SubLedgerOnly([receivable("500.00")]))

    connector._refuse_over_credit(credit_note(Decimal("500.00")), parties())
    with pytest.raises(PermanentError, match="20003"):
        connector._refuse_over_credit(credit_note(Decimal("500.01")), parties())
