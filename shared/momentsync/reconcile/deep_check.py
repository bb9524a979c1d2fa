"""The deep check of the target side: for every record linked in our sync state, is it still in the
books, and as we left it?

The hourly sweep compares Moment with our sync state; it cannot see a document deleted or changed in
Fiken by hand. The deep check reads each of the target's lists once (paged, through the tenant's own
paced client) and compares in memory with the links. What is missing or different is *reported*
(both values, in the transfer log and ``momentsync status``, one operator alert per run), never
re-created: a document someone deleted in the books may have been deleted for a reason, and creating
it again would be a second invoice number for the same sale.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from momentsync.envelope import ENTITY_TYPES
from momentsync.ports import DriftAlerts, LinkListing, SweepStore, TargetSide, TransferLog
from momentsync.reconcile.sweep import SweepRecord
from momentsync.sync.sync_state import SyncLink, as_utc
from momentsync.sync.transfer_log import Outcome, TransferLogEntry
from momentsync.tenants import Tenant

logger = logging.getLogger("momentsync.reconcile")

DEEP_CHECK_ORIGIN = "deep_check"
# At most this many drift entries are kept on the tenant's sweep record (DynamoDB items stop at
# 400 KB); the count is always exact and every entry is in the transfer log.
MAX_DRIFT_KEPT = 50
MISSING, DIFFERENT = "missing", "different"
BOOKED = "booked"


def compare(entity_type: str, link: SyncLink, found: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The drift of one linked record: ``ours`` is what the link recorded, ``target`` what the books hold."""
    base = {"entity_type": entity_type, "moment_id": link.moment_id, "remote_id": link.remote_id}
    if found is None:
        return [{**base, "kind": MISSING, "field": "record", "ours": link.remote_id, "target": None}]
    drift = []
    if link.remote_number is not None and found.get("number") not in (None, link.remote_number):
        drift.append({**base, "kind": DIFFERENT, "field": "number", "ours": link.remote_number,
                      "target": found["number"]})  # fmt: skip
    ours_gross = link.details.get("gross")
    if ours_gross is not None and found.get("gross") is not None and int(found["gross"]) != int(ours_gross):
        drift.append({**base, "kind": DIFFERENT, "field": "gross", "ours": int(ours_gross),
                      "target": int(found["gross"])})  # fmt: skip
    if found.get("state") not in (None, BOOKED):
        # E.g. a SpareBank 1 voucher reversed by hand: still in the books, no longer in force.
        drift.append({**base, "kind": DIFFERENT, "field": "state", "ours": BOOKED, "target": found["state"]})
    return drift


@dataclass
class DeepCheck:
    sync_state: LinkListing
    sweeps: SweepStore
    transfer_log: TransferLog | None = None
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    entity_types: tuple[str, ...] = field(default=ENTITY_TYPES)

    def run(self, tenant: Tenant, target: TargetSide, requests: Callable[[], int] = lambda: 0) -> SweepRecord:
        """Compares every linked record of ``tenant`` with the books; stores and returns the drift."""
        started = self.clock()
        reads_before = requests()
        drift: list[dict[str, Any]] = []
        checked = 0
        for entity_type in self.entity_types:
            links = [link for link in self.sync_state.list(tenant.tenant_id, entity_type) if link.remote_id]
            if not links:
                continue  # nothing linked: the target's list is not read at all
            records = target.target_records(entity_type, links)
            for link in links:
                checked += 1
                drift.extend(compare(entity_type, link, records.get(target.target_key(entity_type, link))))
        record = self._record(tenant.tenant_id, started)
        record.deep_checked_at = self.clock()
        record.deep_checked = checked
        record.deep_check_reads = requests() - reads_before
        record.drift_count = len(drift)
        record.drift = drift[:MAX_DRIFT_KEPT]
        record.deep_check_reason = None
        self.sweeps.save_deep_check(record)
        self._log(tenant.tenant_id, drift)
        logger.info(
            "deep check finished",
            extra={
                "tenant_id": tenant.tenant_id,
                "checked": checked,
                "drift": len(drift),
                "target_reads": record.deep_check_reads,
            },  # fmt: skip
        )
        return record

    def record_skip(self, tenant: Tenant, reason: str) -> SweepRecord:
        record = self._record(tenant.tenant_id, self.clock())
        record.deep_checked_at = self.clock()
        record.deep_check_reason = reason
        self.sweeps.save_deep_check(record)
        return record

    def _record(self, tenant_id: str, started: datetime) -> SweepRecord:
        # Kept in its own item (meta#deep_check); SweepStore.get shows it with the last sweep.
        return self.sweeps.get(tenant_id) or SweepRecord(
            tenant_id=tenant_id, started_at=started, outcome="never"
        )

    def _log(self, tenant_id: str, drift: Iterable[dict[str, Any]]) -> None:
        if self.transfer_log is None:
            return
        run_id = uuid.uuid4().hex[:12]
        for n, item in enumerate(drift):
            self.transfer_log.record(
                TransferLogEntry(
                    tenant_id=tenant_id,
                    event_id=f"deep-check-{run_id}-{n}",
                    entity_type=item["entity_type"],
                    entity_id=item["moment_id"],
                    outcome=Outcome.FLAGGED,
                    logged_at=self.clock(),
                    remote_id=item["remote_id"],
                    reason=describe(item),
                    origin=DEEP_CHECK_ORIGIN,
                    details={k: item[k] for k in ("kind", "field", "ours", "target")},
                )
            )


def describe(item: dict[str, Any]) -> str:
    what = f"{item['entity_type']} {item['moment_id']} (target id {item['remote_id']})"
    if item["kind"] == MISSING:
        return f"{what} is linked but no longer in the books; not re-created: was it deleted on purpose?"
    return f"{what}: {item['field']} is {item['target']!r} in the books, {item['ours']!r} when we wrote it"


def summarise(records: Iterable[SweepRecord]) -> tuple[dict[str, int], list[str]]:
    """Per tenant with drift, its count; and a few lines to show in the one alert of the run."""
    counts: dict[str, int] = {}
    samples: list[str] = []
    for record in records:
        if record.drift_count:
            counts[record.tenant_id] = record.drift_count
            samples.extend(f"{record.tenant_id}: {describe(item)}" for item in record.drift[:3])
    return counts, samples[:10]


@dataclass
class DeepCheckRun:
    """Every tenant (or the chosen ones), one after another, then one operator alert for the run."""

    check: DeepCheck
    # The tenant's accounting connector, opened exactly as the processor opens it (its pacing included).
    open_target: Callable[[Tenant], Any]
    alerts: DriftAlerts | None = None
    results: list[SweepRecord] = field(default_factory=list)

    def run(
        self,
        tenants: Iterable[Tenant],
        time_left: Callable[[], float] = lambda: float("inf"),
        *,
        budget_per_tenant: float = 120,
    ) -> dict[str, Any]:
        self.results = []
        not_reached = 0
        for tenant in self._longest_unchecked_first(tenants):
            if time_left() < budget_per_tenant:
                not_reached += 1  # checked first next run
                continue
            self.results.append(self.check_tenant(tenant))
        counts, samples = summarise(self.results)
        if counts and self.alerts is not None:
            self.alerts.drift_found(counts=counts, samples=samples)
        return {
            "mode": "deep_check",
            "tenants": len(self.results),
            "not_reached": not_reached,
            "checked": sum(r.deep_checked for r in self.results),
            "drift": sum(r.drift_count for r in self.results),
            "target_reads": sum(r.deep_check_reads for r in self.results),
        }

    def _longest_unchecked_first(self, tenants: Iterable[Tenant]) -> list[Tenant]:
        """Never checked first, then the oldest check (as the sweep orders its tenants): a run that ends
        early leaves its tail to go first next run, instead of the same tenants never being checked."""
        never = datetime.min.replace(tzinfo=UTC)

        def last_checked(tenant: Tenant) -> datetime:
            record = self.check.sweeps.get(tenant.tenant_id)
            checked = record.deep_checked_at if record else None
            return as_utc(checked) if checked else never

        return sorted(tenants, key=last_checked)  # stable: the given order among equals

    def check_tenant(self, tenant: Tenant) -> SweepRecord:
        if not tenant.processing_enabled:
            # A paused or re-auth tenant's books cannot be read with its connection anyway.
            return self.check.record_skip(tenant, f"tenant is {tenant.status.value}")
        try:
            target = self.open_target(tenant)
            return self.check.run(tenant, target, requests=lambda: target.remote_calls)
        except Exception as exc:  # noqa: BLE001 - recorded; one tenant's failure must not stop the others
            reason = f"{type(exc).__name__}: {getattr(exc, 'reason', None) or exc}"[:300]
            logger.warning("deep check failed", extra={"tenant_id": tenant.tenant_id, "reason": reason})
            return self.check.record_skip(tenant, f"failed: {reason}")
