"""Fiken's rate rule through the whole local pipeline (the emulator's rule on: one request in flight,
4 starts per second per token): the processor's window pacer lets an idle tenant's event go without
waiting, and drains a backlog without one 429."""

from __future__ import annotations

import pytest

from momentsync.connectors.fiken.pacing import RequestPacer
from momentsync.sync.transfer_log import Outcome


@pytest.fixture
def pacer_waits(monkeypatch) -> list[float]:
    """Every wait of a Fiken pacer in this process (the test stack's processor runs here), seconds."""
    waits: list[float] = []
    real_wait = RequestPacer._wait_until

    def wait_until(self: RequestPacer, moment: float) -> None:
        if (seconds := moment - self._clock()) > 0:
            waits.append(seconds)
        real_wait(self, moment)

    monkeypatch.setattr(RequestPacer, "_wait_until", wait_until)
    return waits


def test_an_idle_tenants_event_sends_its_fiken_calls_without_waiting_for_the_pacer(pipeline, pacer_waits):
    assert pipeline.fiken.rate_rule.enabled
    pipeline.mark()
    pacer_waits.clear()
    customer = pipeline.driver.create_customer(name="Fjordlys AS", organization_number="912345670")
    pipeline.settle()

    assert pipeline.last("customer", customer.id).outcome is Outcome.SYNCED
    statuses = [e.status for e in pipeline.fiken_requests()]
    assert len(statuses) == 4 and 429 not in statuses  # two lookups, the create, the read-back
    # Four calls fit in one window: none waited (the fixed 0.255 s spacing waited 3 x ~0.2 s here).
    assert pacer_waits == []


def test_a_tenants_backlog_drains_under_fikens_rate_rule_without_a_429(pipeline, pacer_waits):
    assert pipeline.fiken.rate_rule.enabled
    pipeline.mark()
    pacer_waits.clear()
    with pipeline.stack.processing_paused(purge=False):
        customers = [pipeline.driver.create_customer(name=f"Backlog {i} AS") for i in range(8)]
    pipeline.settle(180)

    assert [pipeline.last("customer", c.id).outcome for c in customers] == [Outcome.SYNCED] * 8
    requests = pipeline.fiken_requests()
    assert len(requests) >= 8 * 3
    assert [e for e in requests if e.status == 429] == []
    # The backlog did reach the window: the pacer waited, and that was all that kept Fiken's rule.
    assert pacer_waits
