"""The invoice corpus through the whole pipeline: Fiken books every Moment document to the øre, in both
modes (the SpareBank 1 run is in test_sparebank1_pipeline.py, beside its fixtures)."""

from __future__ import annotations

import time

from momentsync.tenants import MappingSettings
from tests.corpus.moment_invoices import BATCHES, size
from tests.corpus.verdict import fiken_figures, finalize_batch, judge, report


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
            results.append(judge(f"{batch.name}/{item.key}", item, invoice, pipeline, fiken_figures))
    report("Fiken", results, started)
    assert len(results) == size() >= 30
    assert [r for r in results if not r[1]] == []
    for _, pipeline, _ in runs:
        mine = [v for v in pipeline.fiken.contract_violations if f"/companies/{pipeline.slug}" in v.path]
        assert mine == [], [v.to_dict() for v in mine]
