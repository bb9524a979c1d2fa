"""Forces the interleaving a loaded machine gives moto's DynamoDB about once in a hundred runs.

moto's conditional ``PutItem`` reads the stored item, then parses and evaluates the condition, then
writes. Under load two puts of one item can both read it before either writes: both conditions hold
on what they read and both puts succeed, which DynamoDB never allows (docs/local-aws.md). While
``conditional_puts_meet(key)`` is open, each put of the item holding ``key`` waits, after its read and
before its condition, until the other puts have arrived and read too (or ``meet_seconds`` passed).

With the local stack's atomic calls (``local.aws.atomic_calls``) the first put waits alone, because
the others queue behind the lock; after ``meet_seconds`` it writes, and the others then see its item.
Runs only where moto runs in the test's process (the local stack's default).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from moto.dynamodb import responses as dynamodb_responses
from moto.dynamodb.models import table as dynamodb_table


@contextmanager
def conditional_puts_meet(key: str, *, parties: int = 2, meet_seconds: float = 1.0) -> Iterator[None]:
    arrivals = threading.Semaphore(0)  # one release per put of the item that reached moto's handler
    read = threading.Barrier(parties)  # the puts of the item that have read it, before their conditions
    current = threading.local()  # moto handles each request on one server thread, handler to table

    def ours(body: Any) -> bool:
        return key in str(body.get("Item", {}))

    handler_put_item = dynamodb_responses.DynamoHandler.put_item
    table_put_item = dynamodb_table.Table.put_item
    get_filter_expression = dynamodb_table.get_filter_expression

    def counting_handler(self: Any) -> Any:
        if ours(self.body):
            arrivals.release()
        return handler_put_item(self)

    def marking_put(self: Any, item_attrs: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        current.ours = key in str(item_attrs)
        try:
            return table_put_item(self, item_attrs, *args, **kwargs)
        finally:
            current.ours = False

    def meeting_condition(*args: Any, **kwargs: Any) -> Any:
        if getattr(current, "ours", False):
            # Every put has reached moto before the meeting starts: a slow thread start is not a pass.
            for _ in range(parties):
                arrivals.acquire(timeout=10)
            for _ in range(parties):
                arrivals.release()
            # Broken after meet_seconds when the others could not read meanwhile (atomic calls).
            with contextlib.suppress(threading.BrokenBarrierError):
                read.wait(meet_seconds)
        return get_filter_expression(*args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(dynamodb_responses.DynamoHandler, "put_item", counting_handler)
        patch.setattr(dynamodb_table.Table, "put_item", marking_put)
        patch.setattr(dynamodb_table, "get_filter_expression", meeting_condition)
        yield
