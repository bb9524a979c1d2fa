"""Sync state in DynamoDB: conditional saves (never an older Moment state over a newer one) and the
per-tenant status counts item kept beside the links."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from boto3.dynamodb.conditions import Attr, Key

from momentsync.aws.items import plain_values
from momentsync.clock import utcnow
from momentsync.observability import logger
from momentsync.sync.sync_state import (
    META_PREFIX,
    STATUS_COUNTS_KEY,
    StaleWrite,
    StatusCounts,
    SyncLink,
    as_utc,
    record_key,
)

COUNTS_REVISION = "revision"  # on the status counts item; no '#', so not read as a count
# On a link: ``source_modified_at`` as microseconds since the epoch (UTC), what the conditional save compares.
SOURCE_INSTANT = "source_modified_us"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def instant_micros(value: datetime) -> int:
    return (as_utc(value) - _EPOCH) // timedelta(microseconds=1)


RECOUNT_ATTEMPTS = 5


class RecountRaced(RuntimeError):
    """The tenant's records kept changing during every recount attempt; run it again later."""


def _minute(iso: str) -> datetime:
    """``iso`` to the minute, in UTC: the precision `momentsync status` shows a last success with."""
    return as_utc(datetime.fromisoformat(iso)).astimezone(UTC).replace(second=0, microsecond=0)


class DynamoSyncState:
    def __init__(self, table: Any) -> None:
        self._table = table
        # (tenant, entity type) -> the minute of the last success this process wrote to the status item.
        # A success in the same minute, with no outcome moving, then costs no UpdateItem: `momentsync
        # status` shows the last success to the minute, so what it shows stays the same.
        self._success_minute_written: dict[tuple[str, str], datetime] = {}

    def get(self, tenant_id: str, entity_type: str, moment_id: int) -> SyncLink | None:
        item = self._table.get_item(
            Key={"tenant_id": tenant_id, "record_key": record_key(entity_type, moment_id)},
            ConsistentRead=True,
        ).get("Item")
        return SyncLink.model_validate(plain_values(item)) if item else None

    def save(self, link: SyncLink) -> SyncLink:
        """Stores ``link`` unless a newer Moment state was stored since (raises StaleWrite)."""
        link = link.model_copy(update={"updated_at": utcnow()})
        item = {k: v for k, v in link.model_dump(mode="json").items() if v is not None}
        item["record_key"] = link.record_key
        condition = Attr("record_key").not_exists()
        if link.source_modified_at is not None:
            # Compared as an instant, not as the ISO string: "09:00:00.5Z" sorts before "09:00:00Z",
            # and "10:30+02:00" after "09:00Z". A link written before this attribute keeps the old rule
            # until its next save.
            item[SOURCE_INSTANT] = instant_micros(link.source_modified_at)
            condition = condition | Attr("source_modified_at").not_exists()
            condition = condition | Attr(SOURCE_INSTANT).lte(item[SOURCE_INSTANT])
            condition = condition | (
                Attr(SOURCE_INSTANT).not_exists() & Attr("source_modified_at").lte(item["source_modified_at"])
            )
        else:
            condition = condition | Attr("record_key").exists()
        try:
            old = self._table.put_item(Item=item, ConditionExpression=condition, ReturnValues="ALL_OLD")
        except self._table.meta.client.exceptions.ConditionalCheckFailedException as exc:
            raise StaleWrite(link.record_key) from exc
        self._count(old.get("Attributes"), item)
        return link

    def _count(self, old: dict[str, Any] | None, new: dict[str, Any]) -> None:
        """Moves the record from its old outcome's count to its new one on the tenant's status item.

        Not in one transaction with the save (that would need the old outcome before writing): a crash
        between the two leaves a count off by one, which `momentsync status --recount` repairs. A
        failure here never fails the event: the record itself is saved. No call at all when nothing
        shown changes: the outcome stays and the last success stays in the minute already written.
        """
        entity = new["entity_type"]
        adds: list[str] = []
        sets: list[str] = []
        names: dict[str, str] = {}
        values: dict[str, Any] = {}
        old_outcome, new_outcome = (old or {}).get("last_outcome"), new.get("last_outcome")
        if old_outcome != new_outcome:
            if old_outcome:
                names["#old"] = f"count#{entity}#{old_outcome}"
                values[":minus"] = -1
                adds.append("#old :minus")
            if new_outcome:
                names["#new"] = f"count#{entity}#{new_outcome}"
                values[":one"] = 1
                adds.append("#new :one")
        if new.get("last_error_at") and new["last_error_at"] != (old or {}).get("last_error_at"):
            names |= {"#le": f"last_error_at#{entity}", "#lr": f"last_error#{entity}"}
            names["#lm"] = f"last_error_moment_id#{entity}"
            values |= {":le": new["last_error_at"], ":lr": new.get("last_error") or ""}
            values[":lm"] = new["moment_id"]
            sets += ["#le = :le", "#lr = :lr", "#lm = :lm"]
        success_key, success_minute = (new["tenant_id"], entity), None
        if new.get("last_success_at") and new["last_success_at"] != (old or {}).get("last_success_at"):
            success_minute = _minute(new["last_success_at"])
            # Alone, a success in a minute already written is skipped (see __init__); with another
            # change it rides along for free.
            if adds or sets or self._success_minute_written.get(success_key) != success_minute:
                names["#ls"] = f"last_success_at#{entity}"
                values[":ls"] = new["last_success_at"]
                sets.append("#ls = :ls")
        if not adds and not sets:
            return
        # Every change bumps the item's revision, so a recount racing it notices and starts over.
        names["#rev"] = COUNTS_REVISION
        values[":rev"] = 1
        adds.append("#rev :rev")
        clauses = [f"ADD {', '.join(adds)}"] + ([f"SET {', '.join(sets)}"] if sets else [])
        try:
            self._table.update_item(
                Key={"tenant_id": new["tenant_id"], "record_key": STATUS_COUNTS_KEY},
                UpdateExpression=" ".join(clauses),
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
        except Exception:  # noqa: BLE001 - counts are for status only; the record is saved
            logger.warning("status counts not updated", extra={"tenant_id": new["tenant_id"]}, exc_info=True)
            return
        if "#ls" in names and success_minute is not None:
            self._success_minute_written[success_key] = success_minute

    def status_counts(self, tenant_id: str) -> StatusCounts:
        """One read per tenant, whatever its number of records."""
        item = self._table.get_item(Key={"tenant_id": tenant_id, "record_key": STATUS_COUNTS_KEY}).get("Item")
        if not item:
            return StatusCounts()
        return StatusCounts.from_item({k: v for k, v in plain_values(item).items() if "#" in k})

    def recount(self, tenant_id: str) -> StatusCounts:
        """Rebuilds the status item from every link of the tenant (after an upgrade, or to repair)."""
        key = {"tenant_id": tenant_id, "record_key": STATUS_COUNTS_KEY}
        conflict = self._table.meta.client.exceptions.ConditionalCheckFailedException
        for _ in range(RECOUNT_ATTEMPTS):
            # A save between reading the records and writing the counts would be overwritten: the
            # write holds only if the revision is still the one read before the records were.
            current = self._table.get_item(Key=key, ConsistentRead=True).get("Item") or {}
            revision = current.get(COUNTS_REVISION)
            counts = StatusCounts.of_links(self.list(tenant_id, consistent=True))
            if revision is None:
                condition = Attr(COUNTS_REVISION).not_exists()
            else:
                condition = Attr(COUNTS_REVISION).eq(revision)
            item = counts.to_item(tenant_id) | {COUNTS_REVISION: (revision or 0) + 1}
            try:
                self._table.put_item(Item=item, ConditionExpression=condition)
            except conflict:
                continue
            return counts
        raise RecountRaced(tenant_id)

    def list(
        self, tenant_id: str, entity_type: str | None = None, *, consistent: bool = False
    ) -> list[SyncLink]:
        condition = Key("tenant_id").eq(tenant_id)
        if entity_type:
            condition = condition & Key("record_key").begins_with(f"{entity_type}#")
        links: list[SyncLink] = []
        kwargs: dict[str, Any] = {"KeyConditionExpression": condition, "ConsistentRead": consistent}
        while True:
            page = self._table.query(**kwargs)
            links.extend(
                SyncLink.model_validate(plain_values(item))
                for item in page.get("Items", [])
                # ``meta#`` items (the reconciliation sweep's record) and the status counts item share
                # the tenant's partition.
                if not item["record_key"].startswith(META_PREFIX) and item["record_key"] != STATUS_COUNTS_KEY
            )
            if "LastEvaluatedKey" not in page:
                return links
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
