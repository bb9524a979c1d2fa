"""The port every accounting system implements (Fiken, SpareBank 1 Regnskap): one small interface.

Connectors own the target's field names, natural-key lookups and write rules; the use cases own
the decisions that are the same everywhere (re-fetch, unchanged -> no call, state, outcomes).
``*_content`` methods are pure: the mapped fields we own, whose hash decides "unchanged".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any, Protocol

from momentsync.sync.sync_state import SyncLink


@dataclass(frozen=True)
class RemoteRecord:
    remote_id: str
    remote_number: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


class AccountingConnector(Protocol):
    system: str

    @property
    def remote_calls(self) -> int:
        """Requests sent to the target so far (for the transfer log and the benchmarks)."""
        ...

    def customer_content(self, customer: Any) -> dict[str, Any]: ...

    def upsert_customer(self, customer: Any, link: SyncLink | None) -> RemoteRecord: ...

    def deactivate_customer(self, link: SyncLink) -> None: ...

    def project_content(self, project: Any, customer: RemoteRecord | None) -> dict[str, Any]: ...

    def upsert_project(
        self, project: Any, customer: RemoteRecord | None, link: SyncLink | None
    ) -> RemoteRecord: ...

    def invoice_content(self, invoice: Any, parties: InvoiceParties) -> dict[str, Any]: ...

    def find_invoice(self, invoice: Any, parties: InvoiceParties) -> RemoteRecord | None: ...

    def create_invoice(self, invoice: Any, parties: InvoiceParties) -> RemoteRecord: ...

    def has_invoice_pdf(self, remote: RemoteRecord, invoice_number: Any = None) -> bool:
        """Whether the document already carries this invoice's PDF (checked before an upload is sent
        again): ours, or one whose file name carries the invoice number; not any PDF."""
        ...

    def attach_invoice_pdf(self, remote: RemoteRecord, filename: str, pdf: bytes) -> None: ...

    def update_invoice_due_date(self, remote: RemoteRecord, due_date: date) -> bool:
        """True when the target took the new due date; False when its document cannot change it."""
        ...

    def invoice_totals(self, remote: RemoteRecord) -> InvoiceTotals:
        """What the target booked (Moment's signs), with net and VAT per group where it says."""
        ...

    def expected_totals(self, invoice: Any) -> InvoiceTotals:
        """Moment's figures grouped the way ``invoice_totals`` groups the target's (pure, no call)."""
        ...


@dataclass(frozen=True)
class InvoiceParties:
    """What an invoice refers to in the target, resolved (and synced if needed) before it is mapped."""

    customer: RemoteRecord
    project: RemoteRecord | None = None
    # For a credit note: the target's record of the invoice it credits.
    credited: RemoteRecord | None = None


@dataclass(frozen=True)
class InvoiceTotals:
    net: int
    vat: int
    gross: int
    # (net, VAT) per group the target books separately, e.g. "3000 HIGH" (account and VAT type) in
    # Fiken or "VAT 3" in SpareBank 1: a right gross with a wrong split must not pass as synced.
    groups: dict[str, tuple[int, int]] = field(default_factory=dict)
    # A foreign-currency document's total in NOK (øre): Moment's at Moment's rate, the target's as booked.
    gross_nok: int | None = None


def totals_differences(moment: InvoiceTotals, target: InvoiceTotals) -> list[str]:
    """Every figure that differs, with both values (øre); groups compared when the target names them."""
    problems = []
    for name in ("gross", "net", "vat"):
        mine, theirs = getattr(moment, name), getattr(target, name)
        if mine != theirs:
            label = "incl. VAT" if name == "gross" else name
            problems.append(f"Moment {mine} øre {label}, target {theirs} øre")
    if moment.gross_nok is not None and target.gross_nok is not None and moment.gross_nok != target.gross_nok:
        problems.append(
            f"in NOK: Moment {moment.gross_nok} øre at Moment's exchange rate, target {target.gross_nok} øre "
            "at its own rate"
        )
    if target.groups or moment.groups:
        booked = {key: value for key, value in target.groups.items() if value != (0, 0)}
        wanted = {key: value for key, value in moment.groups.items() if value != (0, 0)}
        for key in sorted(set(booked) | set(wanted)):
            mine, theirs = wanted.get(key, (0, 0)), booked.get(key, (0, 0))
            if mine != theirs:
                problems.append(
                    f"{key}: Moment net {mine[0]} / VAT {mine[1]} øre, "
                    f"target net {theirs[0]} / VAT {theirs[1]} øre"
                )
    return problems


def differences_reason(differences: list[str], limit: int = 1000) -> str:
    """``totals differ: …`` within ``limit`` characters, cut between figures, never inside one (a cut
    "Moment net 12" would read as a figure), saying how many were left out."""
    reason = "totals differ: " + "; ".join(differences)
    if len(reason) <= limit:
        return reason
    room = limit - len("; and 9999 more")
    kept = "totals differ: " + differences[0]
    count = 1
    for difference in differences[1:]:
        if len(kept) + 2 + len(difference) > room:
            break
        kept += f"; {difference}"
        count += 1
    return f"{kept[:room]}; and {len(differences) - count} more"
