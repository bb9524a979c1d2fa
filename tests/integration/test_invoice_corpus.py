"""The invoice corpus through the whole pipeline: Fiken books every Moment invoice to the øre."""

from __future__ import annotations

import time
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from momentsync.moment.models import Invoice, InvoiceRef
from momentsync.sync.transfer_log import Outcome
from momentsync.tenants import MappingSettings
from tests.corpus.moment_invoices import BATCHES, CorpusBatch, CorpusInvoice, issue_date, size


def finalize_batch(pipeline, batch: CorpusBatch) -> list[tuple[CorpusInvoice, Invoice]]:
    customer = pipeline.moment.create_customer(pipeline.company, name=f"Korpus {batch.name} AS")
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
        if item.credits:
            original = made[item.credits]
            fields["credit_note"] = True
            fields["credited_invoice"] = InvoiceRef(id=original.id, invoice_number=original.invoice_number)
        made[item.key] = pipeline.driver.finalize_invoice(**fields)
    return [(item, made[item.key]) for item in batch.invoices]


def fiken_figures(pipeline, invoice: Invoice) -> dict[str, Any] | None:
    """(net, vat, gross) as Fiken booked the document, signed like Moment's (credit notes negative)."""
    number = str(invoice.invoice_number)
    if invoice.is_credit_note:
        for note in pipeline.fiken.credit_notes(pipeline.slug):
            if note.get("orderReference") == number or f"Moment-kreditnota {number}" in (
                note.get("creditNoteText") or ""
            ):
                return {"net": -note["net"], "vat": -note["vat"], "gross": -note["gross"]}
        return None
    for found in pipeline.invoices():
        if found.get("orderReference") == number:
            return {"net": found["net"], "vat": found["vat"], "gross": found["gross"]}
    for sale in pipeline.fiken.sales(pipeline.slug):
        if sale.get("saleNumber") == number:
            if invoice.currency_code == "NOK":
                net, vat = sale["netAmount"], sale["vatAmount"]
            else:  # the sale's own amounts are NOK; what Moment invoiced is on the lines, in currency
                net = sum(line.get("netPriceInCurrency", 0) for line in sale["lines"])
                vat = sum(line.get("vatInCurrency", 0) for line in sale["lines"])
                nok = Decimal(invoice.total_incl_vat_ore) * invoice.currency_rate
                expected_nok = int(nok.quantize(Decimal(1), rounding=ROUND_HALF_UP))
                if abs(sale["netAmount"] + sale["vatAmount"] - expected_nok) > len(sale["lines"]):
                    return {
                        "net": None,
                        "vat": None,
                        "gross": None,
                        "nok": sale["netAmount"] + sale["vatAmount"],
                    }
            return {"net": net, "vat": vat, "gross": net + vat}
    return None


def test_every_corpus_invoice_is_booked_in_fiken_to_the_ore(make_pipeline):
    started = time.monotonic()
    runs = []
    for batch in BATCHES:
        pipeline = make_pipeline(mapping=MappingSettings(invoice_mode=batch.invoice_mode), **batch.company)
        runs.append((batch, pipeline, finalize_batch(pipeline, batch)))
    for _, pipeline, _ in runs:
        pipeline.settle(timeout=110)

    results = []
    for batch, pipeline, made in runs:
        for item, invoice in made:
            moment = {
                "net": invoice.total_excl_vat_ore,
                "vat": invoice.total_vat_ore,
                "gross": invoice.total_incl_vat_ore,
            }
            fiken = fiken_figures(pipeline, invoice)
            outcome = pipeline.last("invoice", invoice.id).outcome
            exact = fiken == moment and outcome is Outcome.SYNCED
            results.append((f"{batch.name}/{item.key}", exact, moment, fiken, outcome))
    exact = sum(1 for r in results if r[1])
    elapsed = time.monotonic() - started
    print(f"\ninvoice corpus: {len(results)} invoices, {exact} exact to the øre and synced ({elapsed:.1f} s)")
    for name, ok, moment, fiken, outcome in results:
        if not ok:
            print(f"  MISMATCH {name}: Moment {moment}, Fiken {fiken}, outcome {outcome}")
    assert len(results) == size() >= 30
    mismatches = [
        (name, moment, fiken, outcome.value) for name, ok, moment, fiken, outcome in results if not ok
    ]
    assert mismatches == []
    for _, pipeline, _ in runs:
        mine = [v for v in pipeline.fiken.contract_violations if f"/companies/{pipeline.slug}" in v.path]
        assert mine == [], [v.to_dict() for v in mine]
