"""The "state complete since" epoch in DynamoDB (the model and its rule: momentsync.sync.state_epoch)."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from boto3.dynamodb.conditions import Attr

from momentsync.clock import utcnow
from momentsync.sync.state_epoch import STATE_EPOCH_KEY, StateEpoch, books_of
from momentsync.tenants import Tenant

GENERATION_MAX_AGE_SECONDS = 60.0
RESETS = "resets"
_EPOCH_FIELDS = tuple(name for name in StateEpoch.model_fields if name != "tenant_id")


class EpochResetMeanwhile(Exception):
    """The epoch was forgotten (``--state-incomplete``) or the table restored after the backfill that would
    set it began."""


class DynamoStateEpochs:
    """The ``meta#state-epoch`` item of each tenant, in the sync-state table it speaks for."""

    def __init__(self, table: Any, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._table = table
        self._clock = clock
        self._generation: str | None = None
        self._generation_read_at = 0.0

    def table_generation(self) -> str:
        """Which table this is (DescribeTable): a restore, from a backup or to a point in time, makes a
        new table with a new creation time (and, on AWS, a new TableId). Read again after a minute: a
        warm process must not keep the old table's generation across a restore under the same name
        (which first deletes the table, and takes minutes)."""
        now = self._clock()
        if self._generation is None or now - self._generation_read_at > GENERATION_MAX_AGE_SECONDS:
            table = self._table.meta.client.describe_table(TableName=self._table.name)["Table"]
            created = table["CreationDateTime"]
            created = created.isoformat() if hasattr(created, "isoformat") else str(created)
            self._generation = "|".join(
                str(p) for p in (table.get("TableId"), table["TableArn"], created) if p
            )
            self._generation_read_at = now
        return self._generation

    def _item(self, tenant_id: str) -> dict[str, Any] | None:
        item: dict[str, Any] | None = self._table.get_item(
            Key={"tenant_id": tenant_id, "record_key": STATE_EPOCH_KEY}, ConsistentRead=True
        ).get("Item")
        return item

    def get(self, tenant_id: str) -> StateEpoch | None:
        item = self._item(tenant_id)
        # An item without a floor is only the count of resets (``forget``): no epoch.
        return (
            StateEpoch.model_validate({**item, "invoice_id_floor": int(item["invoice_id_floor"])})
            if item and "invoice_id_floor" in item
            else None
        )

    def resets(self, tenant_id: str) -> int:
        """How often the tenant's epoch was forgotten: read before a backfill reads anything, so the
        epoch it sets at its end is refused when someone said ``--state-incomplete`` meanwhile."""
        item = self._item(tenant_id)
        return int(item.get(RESETS, 0)) if item else 0

    def proves_never_sent(self, tenant: Tenant, moment_invoice_id: int) -> bool:
        epoch = self.get(tenant.tenant_id)
        return epoch is not None and epoch.proves_never_sent(
            tenant, self.table_generation(), moment_invoice_id
        )

    def establish(
        self,
        tenant: Tenant,
        *,
        since: datetime | None = None,
        invoice_id_floor: int,
        established_by: str,
        resets_seen: int | None = None,
        table_generation_seen: str | None = None,
    ) -> StateEpoch:
        """``resets_seen`` and ``table_generation_seen``: ``resets`` and ``table_generation`` as read
        before what proves the epoch was read; refused (``EpochResetMeanwhile``) when the epoch was
        forgotten since, or the table is another one now (restored in place: the links read are gone)."""
        if table_generation_seen is not None:
            self._generation = None  # read now, not from a minute ago
            if self.table_generation() != table_generation_seen:
                raise EpochResetMeanwhile(tenant.tenant_id)
        epoch = StateEpoch(
            tenant_id=tenant.tenant_id,
            since=since or utcnow(),
            invoice_id_floor=invoice_id_floor,
            table_generation=self.table_generation(),
            tenant_created_at=tenant.created_at,
            books=books_of(tenant),
            established_by=established_by,
        )
        item = {**epoch.model_dump(mode="json"), "record_key": STATE_EPOCH_KEY}
        if resets_seen is None:
            self._table.put_item(Item=item)
            return epoch
        condition = Attr(RESETS).not_exists() if resets_seen == 0 else Attr(RESETS).eq(resets_seen)
        try:
            self._table.put_item(Item={**item, RESETS: resets_seen}, ConditionExpression=condition)
        except self._table.meta.client.exceptions.ConditionalCheckFailedException:
            raise EpochResetMeanwhile(tenant.tenant_id) from None
        return epoch

    def forget(self, tenant_id: str) -> bool:
        """Deletes the epoch; returns whether there was one. Anything that deletes a tenant's links
        calls this first: links gone while the epoch stays would let a known invoice be created again."""
        # Not deleted: the item keeps a count of resets, so a backfill that began before this one
        # cannot set its epoch afterwards (``establish(resets_seen=...)``).
        old = self._table.update_item(
            Key={"tenant_id": tenant_id, "record_key": STATE_EPOCH_KEY},
            UpdateExpression=f"ADD {RESETS} :one REMOVE " + ", ".join(_EPOCH_FIELDS),
            ExpressionAttributeValues={":one": 1},
            ReturnValues="ALL_OLD",
        )
        return "invoice_id_floor" in old.get("Attributes", {})
