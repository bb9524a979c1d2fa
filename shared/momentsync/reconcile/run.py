"""One scheduled run: a sweep for every tenant, within the function's time budget, and its wiring."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from momentsync.credentials import CredentialsNotFound
from momentsync.moment.client import MomentClient
from momentsync.ports import CredentialsSource, TenantRepository
from momentsync.reconcile.sweep import (
    MOMENT_MIN_REQUEST_INTERVAL_SECONDS,
    PacedTransport,
    SweepRecord,
    TenantSweep,
)
from momentsync.sync.sync_state import as_utc
from momentsync.tenants import Tenant


@dataclass
class ReconcileRun:
    tenants: TenantRepository
    sweep: TenantSweep
    credentials: CredentialsSource
    moment_base_url: str
    # Moment's transport, overridable by the tests and the local stack.
    transport: Callable[[], httpx.BaseTransport] = httpx.HTTPTransport
    results: list[SweepRecord] = field(default_factory=list)

    def run(
        self, time_left: Callable[[], float] = lambda: float("inf"), *, budget_per_tenant: float = 60
    ) -> dict[str, Any]:
        """Sweeps tenants one after another while at least ``budget_per_tenant`` seconds are left;
        a tenant not reached keeps its watermark and is swept next run."""
        self.results = []
        not_reached = 0
        for tenant in self._longest_unswept_first(self.tenants.list()):
            if time_left() < budget_per_tenant:
                not_reached += 1
                continue
            self.results.append(self.sweep_tenant(tenant))
        counts: dict[str, int] = {}
        for result in self.results:
            counts[result.outcome] = counts.get(result.outcome, 0) + 1
        return {
            "tenants": counts,
            "not_reached": not_reached,
            "enqueued": sum(r.enqueued for r in self.results),
            "moment_requests": sum(r.moment_requests for r in self.results),
        }

    def _longest_unswept_first(self, tenants: list[Tenant]) -> list[Tenant]:
        """Never swept first, then the oldest last sweep: when the budget ends the run early, the
        tenants it did not reach go first next run instead of starving behind the same few."""
        sweeps = getattr(self.sweep, "sweeps", None)
        if sweeps is None:
            return list(tenants)
        never = datetime.min.replace(tzinfo=UTC)

        def last_started(tenant: Tenant) -> datetime:
            record = sweeps.get(tenant.tenant_id)
            return as_utc(record.started_at) if record else never

        return sorted(tenants, key=last_started)  # stable: tenant id order among equals

    def sweep_tenant(self, tenant: Tenant) -> SweepRecord:
        paced = PacedTransport(self.transport(), MOMENT_MIN_REQUEST_INTERVAL_SECONDS)
        try:
            api_key = self.credentials.get(tenant.tenant_id).moment_api_key
        except CredentialsNotFound:
            api_key = None
        if api_key is None or not api_key.get_secret_value():
            return self.sweep.record_skip(tenant, "no Moment API key stored")
        with MomentClient(
            tenant.moment_company_code, api_key, base_url=self.moment_base_url, transport=paced
        ) as moment:
            return self.sweep.run(tenant, moment, requests=lambda: paced.requests)
