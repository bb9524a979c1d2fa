"""The reconciliation sweep's records in memory, with ``SweepStore``'s split: a sweep's save and a deep
check's save each write only their own fields, so running at once they never undo each other."""

from __future__ import annotations

from typing import Any

from momentsync.reconcile.sweep import DEEP_CHECK_FIELDS, SweepRecord


class InMemorySweepStore:
    def __init__(self) -> None:
        self.sweeps: dict[str, dict[str, Any]] = {}
        self.deep_checks: dict[str, dict[str, Any]] = {}

    def get(self, tenant_id: str) -> SweepRecord | None:
        item, deep = self.sweeps.get(tenant_id), self.deep_checks.get(tenant_id)
        if item is None and deep is None:
            return None
        if item is None:  # deep-checked, never swept
            item = {"tenant_id": tenant_id, "started_at": deep["deep_checked_at"], "outcome": "never"}
        return SweepRecord.model_validate({**item, **(deep or {})})

    def save(self, record: SweepRecord) -> None:
        self.sweeps[record.tenant_id] = record.model_dump(
            mode="json", exclude=DEEP_CHECK_FIELDS, exclude_none=True
        )

    def save_deep_check(self, record: SweepRecord) -> None:
        self.deep_checks[record.tenant_id] = record.model_dump(
            mode="json", include=DEEP_CHECK_FIELDS, exclude_none=True
        )
