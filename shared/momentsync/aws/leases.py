"""A lease lock on DynamoDB: one holder at a time per name, across Lambda containers and the CLI.

Acquire is a conditional put that succeeds when nobody holds the name or the last lease ran out
(``attribute_not_exists(pk) OR expires_at < :now``); release is a delete conditional on our owner id,
so a holder whose lease ran out cannot remove its successor's. A lease must outlast the work done
under it; nothing extends it. A token refresh normally takes a second, but its bound is loose (httpx's
timeout is per phase, Secrets Manager calls retry): the Fiken token provider tolerates an overlap
(``FikenTokenProvider._rotated_elsewhere``). The conditional put must be atomic, as DynamoDB's is; the
local stack's moto is made so (docs/local-aws.md). The expiry doubles as the
table's TTL attribute, so abandoned leases are swept without a job (epoch seconds, as TTL requires).

Clock skew between hosts shortens or lengthens a lease by the skew; seconds-long skew is harmless
against 30-second leases.
"""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from boto3.dynamodb.conditions import Attr

from momentsync.errors import TransientError
from momentsync.observability import logger

LEASE_KEY_PREFIX = "lease#"


class LeaseBusy(TransientError):
    """Somebody else held the lease for the whole wait; the work can be retried later."""


@dataclass(frozen=True)
class Lease:
    name: str
    owner: str
    expires_at: int


class DynamoLeaseLock:
    """Leases on a table whose partition key is ``pk`` (shared with other items by key prefix)."""

    def __init__(
        self,
        table: Any,
        *,
        lease_seconds: float = 30.0,
        wait_seconds: float = 15.0,
        poll_seconds: float = 0.1,
        owner_prefix: str = "momentsync",
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._table = table
        self._lease_seconds = lease_seconds
        self._wait_seconds = wait_seconds
        self._poll_seconds = poll_seconds
        self._owner_prefix = owner_prefix
        self._clock = clock
        self._sleep = sleep

    def try_acquire(self, name: str) -> Lease | None:
        """One attempt: the lease if it was free (or expired), else None."""
        now = self._clock()
        lease = Lease(
            name=name,
            owner=f"{self._owner_prefix}-{uuid.uuid4().hex}",
            expires_at=math.ceil(now + self._lease_seconds),
        )
        try:
            self._table.put_item(
                Item={"pk": _key(name), "owner": lease.owner, "expires_at": lease.expires_at},
                # Strictly earlier than now: a lease expiring this very second still counts as held.
                ConditionExpression=Attr("pk").not_exists() | Attr("expires_at").lt(math.floor(now)),
            )
        except self._table.meta.client.exceptions.ConditionalCheckFailedException:
            return None
        return lease

    def acquire(self, name: str, *, wait_seconds: float | None = None) -> Lease:
        """Waits up to ``wait_seconds`` (default: the lock's) for the lease; LeaseBusy after that."""
        deadline = self._clock() + (self._wait_seconds if wait_seconds is None else wait_seconds)
        while True:
            lease = self.try_acquire(name)
            if lease is not None:
                return lease
            remaining = deadline - self._clock()
            if remaining <= 0:
                raise LeaseBusy(f"lease {name} is held elsewhere; try again later")
            self._sleep(min(self._poll_seconds, remaining))

    def release(self, lease: Lease) -> bool:
        """False when the lease had run out and someone else holds the name now (theirs is kept)."""
        try:
            self._table.delete_item(
                Key={"pk": _key(lease.name)}, ConditionExpression=Attr("owner").eq(lease.owner)
            )
        except self._table.meta.client.exceptions.ConditionalCheckFailedException:
            logger.warning("lease ran out before release", extra={"lease": lease.name})
            return False
        return True

    @contextmanager
    def hold(self, name: str, *, wait_seconds: float | None = None) -> Iterator[Lease]:
        lease = self.acquire(name, wait_seconds=wait_seconds)
        try:
            yield lease
        finally:
            self.release(lease)


def _key(name: str) -> str:
    return f"{LEASE_KEY_PREFIX}{name}"
