"""The reconciliation sweep's and deep check's records (``meta#`` items in the sync-state table)."""

from __future__ import annotations

from typing import Any

from momentsync.aws.items import plain_values
from momentsync.reconcile.sweep import DEEP_CHECK_FIELDS, DEEP_CHECK_RECORD_KEY, SWEEP_RECORD_KEY, SweepRecord


class SweepStore:
    """``meta#sweep`` items in the sync-state table."""

    def __init__(self, table: Any) -> None:
        self._table = table

    def get(self, tenant_id: str) -> SweepRecord | None:
        """The last sweep, with the last deep check's fields (kept in an item of their own)."""
        item = self._get(tenant_id, SWEEP_RECORD_KEY)
        deep = self._get(tenant_id, DEEP_CHECK_RECORD_KEY)
        if item is None and deep is None:
            return None
        if item is None:  # deep-checked, never swept
            assert deep is not None
            item = {"tenant_id": tenant_id, "started_at": deep["deep_checked_at"], "outcome": "never"}
        record = SweepRecord.model_validate(item)
        if deep is not None:
            checked = SweepRecord.model_validate({**item, **deep})
            record = record.model_copy(update={k: getattr(checked, k) for k in DEEP_CHECK_FIELDS})
        return record

    def save(self, record: SweepRecord) -> None:
        """The sweep's own fields only: a sweep and a deep check running at once never undo each other."""
        item = record.model_dump(mode="json", exclude=DEEP_CHECK_FIELDS)
        item = {k: v for k, v in item.items() if v is not None}
        self._table.put_item(Item={**item, "record_key": SWEEP_RECORD_KEY})

    def save_deep_check(self, record: SweepRecord) -> None:
        item = record.model_dump(mode="json", include=DEEP_CHECK_FIELDS | {"tenant_id"})
        item = {k: v for k, v in item.items() if v is not None}
        self._table.put_item(Item={**item, "record_key": DEEP_CHECK_RECORD_KEY})

    def _get(self, tenant_id: str, record_key: str) -> dict[str, Any] | None:
        item = self._table.get_item(
            Key={"tenant_id": tenant_id, "record_key": record_key}, ConsistentRead=True
        ).get("Item")
        return plain_values(item) if item else None
