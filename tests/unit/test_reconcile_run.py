"""One scheduled run: tenants swept one after another within the function's time budget."""

from __future__ import annotations

from datetime import UTC, datetime

from momentsync.reconcile.run import ReconcileRun
from momentsync.reconcile.sweep import SweepRecord


class Tenants:
    def __init__(self, ids: list[str]) -> None:
        self.ids = ids

    def list(self):
        return [type("T", (), {"tenant_id": i})() for i in self.ids]


class CountingRun(ReconcileRun):
    def sweep_tenant(self, tenant) -> SweepRecord:  # type: ignore[override]
        return SweepRecord(
            tenant_id=tenant.tenant_id,
            started_at=datetime(2026, 1, 1, tzinfo=UTC),
            outcome="complete",
            enqueued=2,
            moment_requests=3,
        )


def run_for(ids: list[str]) -> CountingRun:
    return CountingRun(tenants=Tenants(ids), sweep=None, credentials=None, moment_base_url="")  # type: ignore[arg-type]


def test_tenants_not_reached_before_the_budget_runs_out_keep_their_watermark_for_next_run():
    left = iter([900.0, 200.0, 30.0, 10.0])
    summary = run_for(["a", "b", "c", "d"]).run(lambda: next(left), budget_per_tenant=60)

    assert summary == {"tenants": {"complete": 2}, "not_reached": 2, "enqueued": 4, "moment_requests": 6}


def test_each_run_reports_its_own_tenants_only():
    reconcile = run_for(["a"])
    reconcile.run()
    assert reconcile.run()["tenants"] == {"complete": 1}
