"""A reduced chaos run in make test: every fault kind, then record by record, event by event, log scan.

The full run (≥ 10,000 events over ≥ 50 tenants) is ``make chaos``; this one runs the same code on the
test session's stack and emulators, small enough for every push.
"""

from __future__ import annotations

import pytest

from chaos.nemesis import FaultRates
from chaos.run import ChaosConfig, render, run_chaos
from chaos.world import ChaosWorld

pytestmark = pytest.mark.integration


@pytest.fixture
def world(stack, fiken_emulator, moment_emulator):
    chaos_world = ChaosWorld(stack, fiken_emulator, moment_emulator)
    for poller in stack.pollers:  # four concurrent invocations, as MaximumConcurrency would allow
        poller.stop()
        poller.reconfigure(concurrency=4)
        poller.start()
    yield chaos_world
    chaos_world.close()
    for poller in stack.pollers:
        poller.stop()
        poller.reconfigure(concurrency=stack.config.poller_concurrency)
        poller.start()


def test_a_small_storm_loses_nothing_duplicates_nothing_and_leaks_nothing(world):
    config = ChaosConfig(
        seed=7,
        tenants=7,
        events_per_tenant=30,
        senders=3,
        revoked_tenants=1,
        poison_tenants=2,
        token_expiries=1,
        burst_every=60,
        rates=FaultRates(processor_crash=0.06),
        drain_timeout=240,
    )
    report = run_chaos(world, config)
    figures = render(report)
    print(figures)  # the verdict figures, shown with -s

    assert report.ok, figures
    # + the newer event that fixes a poison invoice; the lost ones never reached us (the sweep repaired them)
    # (+ one new customer whose webhook is lost at the end, so the sweep must repair something)
    assert report.events.accepted + report.lost_before_ingest == 7 * 30 + 1 + 1, figures
    assert report.events.lost == [] and report.records.duplicates == [], figures
    # The storm really happened: every kind of fault fired at least once.
    assert set(report.faults["fiken"]) >= {"429", "5xx", "timeout", "drop_after_apply", "slow"}, figures
    assert set(report.faults["moment"]) >= {"429", "5xx"}, figures
    assert sum(report.faults["processor_crash_after_fiken_write"].values()) >= 1, figures
    assert report.faults["token_expiries"] == 1 and len(report.reconnects) == 1, figures
    assert set(report.troubles) == {"duplicate", "late", "reordered"}, figures
    # Both poison invoices were dead-lettered, fixed (override / in Moment) and replayed.
    assert report.dead_letters["reasons"].get("poison: VAT code", 0) >= 2, figures
    # Each failed on its VAT code before anything booked it (never on a guessed code).
    assert len(report.poison_paths) == 2, figures
    for path in report.poison_paths.values():
        assert [outcome for outcome in path if outcome != "retrying"][:1] == ["failed"], figures
    assert report.events.applied_after_replay >= 1, figures
    assert sum(report.records.checked.values()) >= 60, figures
    # Issue 15's faults fired, and the sweep converged: every document has exactly one PDF.
    assert report.lost_before_ingest >= 1 and report.convergence["repaired"] >= 1, figures
    assert sum(report.faults["sync_state_wiped"].values()) >= 1, figures
    assert report.faults["attachment_answers_lost"] >= 1, figures
    assert report.records.pdfs_checked >= 7 and report.records.pdf_copies == [], figures
    assert report.secrets_scanned >= 7 * 3, figures
    # A tenant removed and added again: its links were lost, the books kept; backfill adopted them
    # (nothing created twice: the record check above finds no duplicate).
    [(readded, links_lost)] = report.faults["tenants_removed_and_added_again"].items()
    assert links_lost >= 1 and report.adoption[readded]["adopt"] >= 1, figures
    # Removed and added again while its webhooks kept coming: backfilled at once, converged (above).
    [(during, during_lost)] = report.faults["tenants_removed_and_added_during_storm"].items()
    assert during_lost >= 1 and report.adoption[during]["when"] == "during the storm", figures
    # A tenant moving from Moment's own integration: its books' records adopted, none created twice.
    [(migrating, in_books)] = report.faults["migration_tenants"].items()
    assert in_books >= 3 and report.adoption[migrating]["adopt"] >= 3, figures
    # The epoch was on (every tenant has one after its backfill) and saved lookups, wipe or not.
    assert report.lookups_skipped_by_epoch >= 1 and report.invoices_adopted >= 1, figures
