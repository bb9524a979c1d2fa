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


# ---------------------------------------------------------------------- attack (issue 15): starvation
class Sweeps:
    """The ``meta#sweep`` records, in memory: when each tenant was last swept."""

    def __init__(self) -> None:
        self.records: dict[str, SweepRecord] = {}

    def get(self, tenant_id: str) -> SweepRecord | None:
        return self.records.get(tenant_id)


class RecordingRun(ReconcileRun):
    """Each sweep is stored with a later start time, as the real ones are."""

    clock = 0

    def sweep_tenant(self, tenant) -> SweepRecord:  # type: ignore[override]
        RecordingRun.clock += 1
        record = SweepRecord(
            tenant_id=tenant.tenant_id,
            started_at=datetime(2026, 1, 1, 0, RecordingRun.clock, tzinfo=UTC),
            outcome="complete",
        )
        self.sweep.sweeps.records[tenant.tenant_id] = record
        return record


def test_tenants_never_reached_are_swept_first_next_run_so_no_tenant_starves():
    """A run whose budget covers only two of four tenants must not sweep the same two every hour:
    tenants "c" and "d" (later in the order) would never be swept and their lost webhooks never
    repaired. The tenant swept longest ago (or never) goes first."""
    sweep = type("S", (), {"sweeps": Sweeps()})()
    reconcile = RecordingRun(
        tenants=Tenants(["a", "b", "c", "d"]), sweep=sweep, credentials=None, moment_base_url=""
    )  # type: ignore[arg-type]

    for _ in range(2):
        left = iter([900.0, 200.0, 30.0, 10.0])
        reconcile.run(lambda left=left: next(left), budget_per_tenant=60)

    assert set(sweep.sweeps.records) == {"a", "b", "c", "d"}


def test_two_scheduled_runs_never_overlap_so_no_tenant_is_swept_twice_at_once():
    """With an interval shorter than the function's timeout, a slow run is still sweeping when the next
    starts: the same tenant swept by both at once (every repair enqueued twice, Moment read at twice
    the sweep's pace). The smallest interval allowed must cover the longest run."""
    from local.template import load_template

    template = load_template()
    timeout = template["Resources"]["ReconcileFunction"]["Properties"]["Timeout"]
    assert template["Parameters"]["ReconcileIntervalMinutes"]["MinValue"] * 60 >= timeout
