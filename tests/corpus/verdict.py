"""The corpus's verdict: each document put through the pipeline, then its booked figures read from the
target's emulator (net, VAT, gross and net/VAT per rate, Moment's signs) and judged against Moment's."""

from __future__ import annotations

import time
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from momentsync.connectors.fiken.vat import VAT_RATE_PERCENT
from momentsync.moment.models import Invoice, InvoiceRef
from momentsync.sync.transfer_log import Outcome
from tests.corpus.moment_invoices import CorpusBatch, CorpusInvoice, issue_date


def finalize_batch(pipeline, batch: CorpusBatch, **customer: Any) -> list[tuple[CorpusInvoice, Invoice]]:
    customer = pipeline.moment.create_customer(pipeline.company, name=f"Korpus {batch.name} AS", **customer)
    made: dict[str, Invoice] = {}
    for index, item in enumerate(batch.invoices):
        if item.credits and not item.lines:
            made[item.key] = pipeline.driver.credit_invoice(made[item.credits].id)
            continue
        fields: dict[str, Any] = {
            "customer": customer.id,
            "invoice_date": issue_date(index),
            "lines": list(item.lines),
            "currency_code": item.currency,
            "currency_rate": item.currency_rate,
        }
        if not item.kid or item.credits:
            fields["payment_id"] = None
        if item.their_reference:
            fields["their_reference"] = item.their_reference
        if item.credits:
            original = made[item.credits]
            fields["credit_note"] = True
            fields["credited_invoice"] = InvoiceRef(id=original.id, invoice_number=original.invoice_number)
        made[item.key] = pipeline.driver.finalize_invoice(**fields)
    return [(item, made[item.key]) for item in batch.invoices]


def by_rate(pairs) -> dict[str, tuple[int, int]]:
    """(net, VAT) per VAT rate from (percent, net, vat) triples, zero rates left out."""
    rates: dict[str, tuple[int, int]] = {}
    for percent, net, vat in pairs:
        key = format(Decimal(str(percent or 0)).normalize(), "f")
        was = rates.get(key, (0, 0))
        rates[key] = (was[0] + net, was[1] + vat)
    return {key: value for key, value in rates.items() if value != (0, 0)}


def moment_figures(invoice: Invoice) -> dict[str, Any]:
    return {
        "net": invoice.total_excl_vat_ore,
        "vat": invoice.total_vat_ore,
        "gross": invoice.total_incl_vat_ore,
        "rates": by_rate((li.vat_percent, li.amount_excl_vat_ore, li.vat_amount_ore) for li in invoice.lines),
    }


def fiken_figures(pipeline, invoice: Invoice) -> dict[str, Any] | None:
    """Net, VAT, gross and (net, VAT) per rate as Fiken booked the document, signed like Moment's."""
    number = str(invoice.invoice_number)
    if invoice.is_credit_note:
        for note in pipeline.fiken.credit_notes(pipeline.slug):
            if note.get("orderReference") == number or f"Moment-kreditnota {number}" in (
                note.get("creditNoteText") or ""
            ):
                rates = by_rate((li["vatInPercent"], -li["net"], -li["vat"]) for li in note["lines"])
                return {"net": -note["net"], "vat": -note["vat"], "gross": -note["gross"], "rates": rates}
    for found in pipeline.invoices():
        if found.get("orderReference") == number:
            rates = by_rate((li["vatInPercent"], li["net"], li["vat"]) for li in found["lines"])
            return {"net": found["net"], "vat": found["vat"], "gross": found["gross"], "rates": rates}
    for sale in pipeline.fiken.sales(pipeline.slug):
        if sale.get("saleNumber") == number:
            if invoice.currency_code == "NOK":
                net, vat = sale["netAmount"], sale["vatAmount"]
                rates = by_rate(
                    (VAT_RATE_PERCENT[li["vatType"]], li["netPrice"], li["vat"]) for li in sale["lines"]
                )
            else:  # the sale's own amounts are NOK; what Moment invoiced is on the lines, in currency
                net = sum(line.get("netPriceInCurrency", 0) for line in sale["lines"])
                vat = sum(line.get("vatInCurrency", 0) for line in sale["lines"])
                rates = by_rate(
                    (
                        VAT_RATE_PERCENT[li["vatType"]],
                        li.get("netPriceInCurrency", 0),
                        li.get("vatInCurrency", 0),
                    )
                    for li in sale["lines"]
                )
                nok = Decimal(invoice.total_incl_vat_ore) * invoice.currency_rate
                expected_nok = int(nok.quantize(Decimal(1), rounding=ROUND_HALF_UP))
                if abs(sale["netAmount"] + sale["vatAmount"] - expected_nok) > len(sale["lines"]):
                    return {
                        "net": None,
                        "vat": None,
                        "gross": None,
                        "nok": sale["netAmount"] + sale["vatAmount"],
                    }
            return {"net": net, "vat": vat, "gross": net + vat, "rates": rates}
    return None


def judge(name: str, item: CorpusInvoice, invoice: Invoice, pipeline, figures) -> tuple:
    """(name, right?, Moment's figures, the target's, outcome, reason): booked to the øre and synced,
    or refused / skipped as the corpus expects with its reason, and then nothing booked."""
    moment = moment_figures(invoice)
    booked = figures(pipeline, invoice)
    entry = pipeline.last("invoice", invoice.id)
    if item.expect in (Outcome.SYNCED.value, Outcome.FLAGGED.value):
        right = booked == moment and entry.outcome.value == item.expect
        if item.expect == Outcome.FLAGGED.value:
            right = right and item.reason is not None and item.reason in (entry.reason or "")
    else:
        right = (
            booked is None
            and entry.outcome.value == item.expect
            and item.reason is not None
            and item.reason in (entry.reason or "")
        )
    return (name, right, moment, booked, entry.outcome.value, entry.reason)


def report(target: str, results: list[tuple], started: float) -> None:
    exact = sum(1 for r in results if r[1] and r[4] == "synced")
    flagged = sum(1 for r in results if r[1] and r[4] == "flagged")
    refused = sum(1 for r in results if r[1] and r[4] not in ("synced", "flagged"))
    elapsed = time.monotonic() - started
    print(
        f"\n{target} corpus: {len(results)} documents, {exact} exact to the øre and synced, "
        f"{flagged} booked and flagged as expected, {refused} refused or skipped as expected "
        f"({elapsed:.1f} s)"
    )
    for name, ok, moment, booked, outcome, reason in results:
        if not ok:
            print(f"  MISMATCH {name}: Moment {moment}, target {booked}, outcome {outcome} ({reason})")


def sb1_figures(pipeline, invoice: Invoice) -> dict[str, Any] | None:
    """Net, VAT, gross and (net, VAT) per rate as the voucher booked them (Moment's signs): sales legs
    carry the net, VAT legs (the VAT types' outgoing accounts) the VAT, the sub-ledger leg the total."""
    number = str(invoice.invoice_number)
    vat_accounts = {
        t["OutgoingAccountID"] for t in pipeline.records("vattypes") if t.get("OutgoingAccountID")
    }
    lines = [li for li in pipeline.records("journalentrylines") if str(li.get("InvoiceNumber")) == number]
    if not lines:
        return None

    def ore(line: dict[str, Any]) -> int:
        return int((Decimal(str(line["Amount"])) * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))

    legs = [li for li in lines if not li.get("SubAccountID")]
    sales = [li for li in legs if li["AccountID"] not in vat_accounts]
    vats = [li for li in legs if li["AccountID"] in vat_accounts]
    net, vat = -sum(ore(li) for li in sales), -sum(ore(li) for li in vats)
    receivable = sum(ore(li) for li in lines if li.get("SubAccountID"))
    rates = by_rate(
        [(li.get("VatPercent"), -ore(li), 0) for li in sales]
        + [(li.get("VatPercent"), 0, -ore(li)) for li in vats]
    )
    return {"net": net, "vat": vat, "gross": receivable if receivable == net + vat else None, "rates": rates}
