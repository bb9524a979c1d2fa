# ruff: noqa: F811 - the fixtures (aws, table) are imported and then named as parameters
"""Attack no. 61: the processor's transfer log near Lambda's deadline (DynamoTransferLog.batched with the
invocation's time left). What the builders' tests never generate: a write that fails after the switch to
direct writes, a deadline that cannot be read or is absurd, tenant threads recording at the instant of
the switch, timers surviving a batch. DynamoTransferLog on the local stack's moto server."""

from __future__ import annotations

import contextvars
import json
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3
import httpx
import pytest
from botocore.awsrequest import AWSResponse

from local.template import ROOT
from momentsync.aws.client_config import deadline_write_config
from momentsync.aws.transfer_log import DEADLINE_MARGIN_SECONDS, DynamoTransferLog
from momentsync.sync.transfer_log import Outcome
from tests.unit.test_port_contracts import aws, template_table  # noqa: F401 - the fixture, used by name
from tests.unit.test_transfer_log_batches import (
    entry,
    failing_writes,
    stored,
    table,  # noqa: F401 - the fixture, used by name
    wait_for,
    writes,
)

SOON = DEADLINE_MARGIN_SECONDS + 0.05  # time left: the deadline write comes almost at once


def failing_puts(table, times: int) -> None:
    """The table's next ``times`` PutItems fail (DynamoDB throttling, say)."""
    put = table._table.put_item
    failures = iter([RuntimeError("ProvisionedThroughputExceededException")] * times)

    def failing(**kwargs):
        for error in failures:
            raise error
        return put(**kwargs)

    table.put_item = failing


def warned(caplog, message: str) -> bool:
    return any(r.getMessage() == message for r in caplog.records)


def test_an_entry_whose_direct_write_fails_after_the_switch_is_not_raised_and_is_written_later(table, caplog):
    """The processor logs a synced event with an unguarded ``record`` (only failure paths use
    log_safely): before the switch it only appends, after it a failed PutItem raised into the event's
    processing, after the push, and the record (and the rest of its tenant's group) came back."""
    log = DynamoTransferLog(table, timedelta(days=30))
    with log.batched(lambda: SOON):
        log.record(entry(1))
        wait_for(lambda: stored(table) == ["event-1"])
        failing_puts(table, times=1)
        log.record(entry(2))  # must not raise
        assert warned(caplog, "could not write the transfer log before the deadline")
        log.record(entry(3))  # the next direct write takes the kept entry along
        assert stored(table) == ["event-1", "event-2", "event-3"]
    assert stored(table) == ["event-1", "event-2", "event-3"]
    assert not warned(caplog, "could not write the transfer log")


def test_entries_a_failed_deadline_write_kept_are_written_with_the_next_entry_not_only_at_the_end(
    table, caplog
):
    """The end may never come (that is why the deadline write exists): what the failed deadline write
    kept must not wait for it while later entries are written directly."""
    log = DynamoTransferLog(table, timedelta(days=30))
    failing_writes(table, times=1)
    with log.batched(lambda: SOON):
        log.record(entry(1))
        wait_for(lambda: warned(caplog, "could not write the transfer log before the deadline"))
        log.record(entry(2))
        # Killed here: the table is all that is left.
        assert stored(table) == ["event-1", "event-2"]


def test_a_deadline_that_cannot_be_read_does_not_fail_the_batch_nor_hold_later_entries(table, caplog):
    """``seconds_left`` raising (a context without the method, say) failed the whole batch before a
    record ran, and left the batch's pending entries set in the thread's context: every entry the
    thread recorded afterwards, outside any batch, was held forever."""
    log = DynamoTransferLog(table, timedelta(days=30))

    def broken() -> float:
        raise AttributeError("'NoneType' object has no attribute 'get_remaining_time_in_millis'")

    with log.batched(broken):
        log.record(entry(1))
    assert stored(table) == ["event-1"]
    log.record(entry(2))  # outside any batch: written at once
    assert stored(table) == ["event-1", "event-2"]
    assert writes(table)[-1] == "PutItem"


@pytest.mark.parametrize("left", [float("inf"), 1e12, float("nan"), -5.0, 0.0])
def test_an_absurd_time_left_still_writes_every_entry_and_kills_no_thread(table, left, monkeypatch):
    """``threading.Timer`` with an interval past ``threading.TIMEOUT_MAX`` dies of an OverflowError."""
    died: list[BaseException | None] = []
    monkeypatch.setattr(threading, "excepthook", lambda args: died.append(args.exc_value))
    log = DynamoTransferLog(table, timedelta(days=30))
    with log.batched(lambda: left):
        log.record(entry(1))
        time.sleep(0.2)
        log.record(entry(2))
    assert stored(table) == ["event-1", "event-2"]
    assert died == []
    assert not [t for t in threading.enumerate() if isinstance(t, threading.Timer)]


def record_from_ten_tenant_threads(log: DynamoTransferLog, per_thread: int) -> None:
    """Ten tenant threads of one batch (each with a copy of its context), recording ``per_thread``
    entries each, 10 ms apart, so the deadline switch falls among them."""

    def tenant(t: int) -> None:
        for n in range(per_thread):
            log.record(entry(t * 1000 + n, tenant_id=f"tenant-{t}"))
            time.sleep(0.01)

    threads = [threading.Thread(target=contextvars.copy_context().run, args=(tenant, t)) for t in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def test_tenant_threads_recording_across_the_switch_lose_and_double_nothing(table):
    """Ten tenant threads record while the timer flips the batch to direct writes."""
    log = DynamoTransferLog(table, timedelta(days=30))
    per_thread = 20
    with log.batched(lambda: DEADLINE_MARGIN_SECONDS + 0.1):
        record_from_ten_tenant_threads(log, per_thread)
    items = table._table.scan(ConsistentRead=True)["Items"]
    assert len(items) == 10 * per_thread
    assert sorted(item["event_id"] for item in items) == sorted(
        f"event-{t * 1000 + n}" for t in range(10) for n in range(per_thread)
    )


def test_a_batch_ending_in_an_exception_leaves_no_timer_for_the_next_invocation(table):
    """A warm environment is frozen between invocations: a timer left behind would fire in the next
    one, writing (or switching) a batch that is long over."""
    log = DynamoTransferLog(table, timedelta(days=30))
    with pytest.raises(RuntimeError), log.batched(lambda: 600.0):
        log.record(entry(1))
        raise RuntimeError("the batch failed")
    assert not [t for t in threading.enumerate() if isinstance(t, threading.Timer)]
    assert stored(table) == ["event-1"]
    # The next invocation batches again (nothing of the last one's switch carries over).
    with log.batched(lambda: 600.0):
        log.record(entry(2))
        assert stored(table) == ["event-1"]
    assert stored(table) == ["event-1", "event-2"]


def always_unprocessed(table, times: int = 1_000_000) -> list[int]:
    """DynamoDB answers the next ``times`` BatchWriteItems with all their items unprocessed (a throttled
    partition); returns those answers so far (a list that grows)."""
    answers: list[int] = []
    requested: list[dict] = []

    def remember(params, **_) -> None:
        requested.append(json.loads(params["body"])["RequestItems"])  # the wire format

    def throttled(parsed, **_) -> None:  # before boto3's resource turns the answer into Python values
        if len(answers) >= times:
            return
        answers.append(1)
        parsed["UnprocessedItems"] = requested[-1]

    events = table._table.meta.client.meta.events
    events.register("before-call.dynamodb.BatchWriteItem", remember)
    events.register_first("after-call.dynamodb.BatchWriteItem", throttled)
    return answers


def test_a_batch_whose_items_dynamodb_keeps_unprocessed_ends_and_reports_them(table, caplog):
    """boto3's batch writer sends unprocessed items again at once, without a pause or a bound: under
    sustained throttling the batch's end never came, Lambda's timeout ended the invocation and the
    whole batch was delivered again, the very thing a failed audit write must not cause."""
    log = DynamoTransferLog(table, timedelta(days=30))
    answers = always_unprocessed(table)
    ended = threading.Event()

    def batch() -> None:
        with log.batched():
            log.record(entry(1))
            log.record(entry(2))
        ended.set()

    runner = threading.Thread(target=contextvars.copy_context().run, args=(batch,), daemon=True)
    runner.start()
    assert ended.wait(10), f"the batch's end hung: {len(answers)} BatchWriteItems in a loop"
    [line] = [r for r in caplog.records if r.getMessage() == "could not write the transfer log"]
    assert line.entries_lost == 2
    assert len(answers) < 20  # paced, not a hot loop


def test_one_entry_recorded_twice_in_a_batch_is_one_item_not_a_refused_write(table, caplog):
    """DynamoDB refuses a BatchWriteItem that puts one key twice (a ValidationException for all 25)."""
    log = DynamoTransferLog(table, timedelta(days=30))
    with log.batched():
        for n in range(3):
            log.record(entry(n))
        log.record(entry(1))
    assert stored(table) == ["event-0", "event-1", "event-2"]
    assert not warned(caplog, "could not write the transfer log")


def throttled(request) -> AWSResponse:
    """DynamoDB's answer to a throttled request, 400 ProvisionedThroughputExceededException (given
    before the request reaches moto, so botocore's retry rules see a real throttling answer)."""
    body = b'{"__type":"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",'
    body += b'"message":"The level of configured provisioned throughput for the table was exceeded."}'
    return AWSResponse(request.url, 400, {"x-amzn-RequestId": "throttled"}, RawResponse(body))


def throttled_batch_writes(table) -> list[float]:
    """Every BatchWriteItem is answered as throttled; returns when each was sent."""
    sent: list[float] = []

    def throttle(request, **_) -> AWSResponse:
        sent.append(time.monotonic())
        return throttled(request)

    table.meta.client.meta.events.register("before-send.dynamodb.BatchWriteItem", throttle)
    return sent


class RawResponse:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_):
        yield self._body


def test_the_deadline_write_against_a_throttled_table_gives_up_within_the_margin(aws, caplog):  # noqa: F811
    """The margin is what the deadline write may take. botocore's default retries for DynamoDB (ten
    attempts, pauses doubling from 50 ms) keep a throttled write going some 25 s: Lambda ends the
    process long before, and the entries the write held are gone, with not even a warning."""
    name = template_table("TransferLogTable").name
    log_table = boto3.resource("dynamodb", config=deadline_write_config()).Table(name)
    sent = throttled_batch_writes(log_table)
    log = DynamoTransferLog(log_table, timedelta(days=30))
    with log.batched(lambda: DEADLINE_MARGIN_SECONDS + 0.05):
        log.record(entry(1))
        log.record(entry(2))
        wait_for(lambda: warned(caplog, "could not write the transfer log before the deadline"), 60)
        # Three tries, 0.15 s of pauses (botocore's default: ten tries over some 25 s). The bound is the
        # margin itself, loose for a loaded machine: what it tells apart is seconds from tens of seconds.
        # (The timer's next try, 0.2 s after the warning, may have begun: only the first write's three.)
        assert len(sent) >= 3 and sent[2] - sent[0] < DEADLINE_MARGIN_SECONDS


KILLED_BATCH = """
import sys, threading, time
from datetime import timedelta
import boto3
from momentsync.aws.client_config import deadline_write_config
from momentsync.aws.transfer_log import DEADLINE_MARGIN_SECONDS, DynamoTransferLog
from momentsync.sync.transfer_log import Outcome
from momentsync.sync.transfer_log import Outcome, TransferLogEntry
from tests.fakes.records import NOW

table = boto3.resource("dynamodb", config=deadline_write_config()).Table(sys.argv[1])
log = DynamoTransferLog(table, timedelta(days=30))
left = float(sys.argv[2])
with log.batched(lambda: left):
    for n, tenant in enumerate(["acme", "blåbær & søn", "acme"]):
        log.record(TransferLogEntry(tenant_id=tenant, event_id=f"event-{n}", entity_type="invoice",
            entity_id=n, outcome=Outcome.SYNCED, logged_at=NOW + timedelta(milliseconds=n)))
    print("recorded", flush=True)
    # The next tenant's Moment read hangs (in a C call, the GIL released, or spinning in Python).
    while True:
        sum(range(10_000))
"""


def test_a_process_killed_at_its_deadline_leaves_the_entries_of_what_it_did(aws, tmp_path):  # noqa: F811
    """Not a read at the deadline but a real SIGKILL of the process, its main thread busy in Python
    (the timer thread must get the GIL and finish its write within the margin)."""
    name = template_table("TransferLogTable").name
    left = DEADLINE_MARGIN_SECONDS + 1.0
    script = tmp_path / "killed_batch.py"
    script.write_text(KILLED_BATCH)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "shared"), str(ROOT)])}
    process = subprocess.Popen(  # noqa: S603 - our own script, fixed arguments
        [sys.executable, str(script), name, str(left)], env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None and process.stdout.readline() == "recorded\n"
        time.sleep(left)  # from after the records: the process had a little longer than its deadline
    finally:
        process.kill()
        process.wait()
    assert process.returncode == -signal.SIGKILL
    table = boto3.resource("dynamodb").Table(name)
    assert sorted(item["event_id"] for item in table.scan(ConsistentRead=True)["Items"]) == [
        "event-0",
        "event-1",
        "event-2",
    ]


def test_a_write_that_fails_halfway_names_only_the_entries_it_did_not_store(table, caplog):
    """A batch's end writes 25 entries per request (a batch of ten records can log 30: two retries and
    a dead letter each). When the second request fails, the ERROR line must not name the first
    request's 25 as lost: they are in the table."""
    log = DynamoTransferLog(table, timedelta(days=30))
    calls: list[int] = []

    def second_fails(**_) -> None:
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("ProvisionedThroughputExceededException")

    table._table.meta.client.meta.events.register("before-call.dynamodb.BatchWriteItem", second_fails)
    with log.batched():
        for n in range(30):
            log.record(entry(n))
    assert len(stored(table)) == 25
    [line] = [r for r in caplog.records if r.getMessage() == "could not write the transfer log"]
    assert line.entries_lost == 5
    assert sorted(event for _, event, _ in line.events) == sorted(
        set(f"event-{n}" for n in range(30)) - set(stored(table))
    )


def test_tenant_threads_across_the_switch_with_half_the_writes_throttled_lose_nothing_at_the_end(
    table, caplog
):
    """Kept entries, restored entries and direct writes from ten threads at once: when the end comes
    (and DynamoDB answers again), every entry is in the table, and nothing was reported lost."""
    log = DynamoTransferLog(table, timedelta(days=30))
    throttling = threading.Event()
    throttling.set()
    refused: list[str] = []
    lock = threading.Lock()
    coin = iter([n % 2 == 0 for n in range(100_000)])

    def flaky(model, **_) -> None:
        with lock:
            fail = throttling.is_set() and next(coin)
        if fail:
            refused.append(model.name)
            raise RuntimeError("ProvisionedThroughputExceededException")

    events = table._table.meta.client.meta.events
    events.register("before-call.dynamodb.BatchWriteItem", flaky)
    events.register("before-call.dynamodb.PutItem", flaky)
    per_thread = 15
    with log.batched(lambda: DEADLINE_MARGIN_SECONDS + 0.1):
        record_from_ten_tenant_threads(log, per_thread)
        throttling.clear()
    assert "PutItem" in refused and "BatchWriteItem" in refused
    assert len(stored(table)) == 10 * per_thread
    assert not warned(caplog, "could not write the transfer log")


def test_two_logs_batched_at_once_each_write_only_their_own_table_and_deadline(aws):  # noqa: F811
    first, second = template_table("TransferLogTable"), template_table("TransferLogTable")
    near, far = DynamoTransferLog(first, timedelta(days=30)), DynamoTransferLog(second, timedelta(days=30))
    with near.batched(lambda: DEADLINE_MARGIN_SECONDS + 0.05), far.batched(lambda: 600.0):
        near.record(entry(1))
        far.record(entry(2, tenant_id="other"))
        wait_for(lambda: [i["event_id"] for i in first.scan()["Items"]] == ["event-1"])
        assert second.scan()["Items"] == []  # the other log's deadline is far: it still holds its entry
    assert [i["event_id"] for i in first.scan()["Items"]] == ["event-1"]
    assert [i["event_id"] for i in second.scan()["Items"]] == ["event-2"]


class SlowDynamoDB(ThreadingHTTPServer):
    """A proxy before the moto server whose BatchWriteItem answers take ``delay`` seconds."""

    daemon_threads = True

    def __init__(self, upstream: str, delay: float) -> None:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if "BatchWriteItem" in self.headers.get("X-Amz-Target", ""):
                    server.slow_calls += 1
                    time.sleep(delay)
                headers = {
                    k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")
                }
                try:
                    answer = httpx.post(upstream, content=body, headers=headers)
                except httpx.HTTPError:
                    return  # moto is gone: the test ended long before this answer
                try:
                    self.send_response(answer.status_code)
                    self.send_header("Content-Type", answer.headers.get("content-type", "application/json"))
                    self.send_header("Content-Length", str(len(answer.content)))
                    self.end_headers()
                    self.wfile.write(answer.content)
                except OSError:
                    pass  # the client gave up waiting

            def log_message(self, *_) -> None:
                pass

        self.slow_calls = 0
        super().__init__(("127.0.0.1", 0), Handler)


def test_the_deadline_write_against_a_slow_dynamodb_gives_up_within_the_margin(aws, caplog):  # noqa: F811
    """Slow, not throttled: botocore's default read timeout is 60 s, far past Lambda's deadline."""
    name = template_table("TransferLogTable").name
    proxy = SlowDynamoDB(os.environ["AWS_ENDPOINT_URL"], delay=10.0)
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    try:
        endpoint = f"http://127.0.0.1:{proxy.server_address[1]}"
        log_table = boto3.resource("dynamodb", config=deadline_write_config(), endpoint_url=endpoint).Table(
            name
        )
        log = DynamoTransferLog(log_table, timedelta(days=30))
        with log.batched(lambda: DEADLINE_MARGIN_SECONDS + 0.05):
            switched = time.monotonic() + 0.05
            for n in range(10):
                log.record(entry(n))
            wait_for(lambda: warned(caplog, "could not write the transfer log before the deadline"), 30)
            # Three tries of 0.8 s and 0.15 s of pauses, 2.55 s (botocore's default waits 60 s for one
            # answer). Loose for a loaded machine: it tells seconds from a minute, not 2.5 from 3.
            assert time.monotonic() - switched < 2 * DEADLINE_MARGIN_SECONDS
            assert proxy.slow_calls >= 1
    finally:
        proxy.shutdown()


def test_a_read_while_another_thread_writes_the_batchs_entries_still_sees_its_own(table):
    """The not_found burst watch reads the tenant's log right after logging. If another thread (the
    deadline timer, or another tenant's read) has just taken the held entries and is still writing
    them, the read found nothing held and read a table without them: a burst's crossing missed, and
    never alerted later (the next event's window already held the threshold)."""
    log = DynamoTransferLog(table, timedelta(days=30))
    in_flight, release = threading.Event(), threading.Event()

    def slow_first(**_) -> None:
        if not in_flight.is_set():
            in_flight.set()
            release.wait(5)

    table._table.meta.client.meta.events.register("before-call.dynamodb.BatchWriteItem", slow_first)
    with log.batched():
        log.record(entry(1, outcome=Outcome.NOT_FOUND))
        other = threading.Thread(target=contextvars.copy_context().run, args=(log.flush,))
        other.start()  # another tenant's read of the log: it writes what the batch holds first
        assert in_flight.wait(5)
        threading.Timer(0.3, release.set).start()
        assert [e.event_id for e in log.query("acme", outcome="not_found")] == ["event-1"]
        other.join()


def test_a_failed_deadline_write_is_tried_again_before_the_deadline_not_only_at_an_end_that_may_not_come(
    table, caplog
):
    """The last tenant's request hangs until Lambda kills the process: no later entry takes the kept
    ones along, and the batch's end never comes. A throttled deadline write was the only try."""
    log = DynamoTransferLog(table, timedelta(days=30))
    failing_writes(table, times=1)
    with log.batched(lambda: SOON):
        log.record(entry(1))
        log.record(entry(2))
        wait_for(lambda: stored(table) == ["event-1", "event-2"], DEADLINE_MARGIN_SECONDS)
    assert warned(caplog, "could not write the transfer log before the deadline")


def test_a_deadline_write_that_keeps_failing_stops_trying_before_the_deadline_and_at_the_end(table, caplog):
    log = DynamoTransferLog(table, timedelta(days=30))
    failing_writes(table, times=1000)
    started = time.monotonic()
    with log.batched(lambda: SOON):
        log.record(entry(1))
        time.sleep(DEADLINE_MARGIN_SECONDS + 0.5)
        tries = sum(
            r.getMessage() == "could not write the transfer log before the deadline" for r in caplog.records
        )
        assert 2 <= tries <= DEADLINE_MARGIN_SECONDS / 0.2 + 1
        time.sleep(0.5)
        assert tries == sum(
            r.getMessage() == "could not write the transfer log before the deadline" for r in caplog.records
        )
    assert time.monotonic() - started < DEADLINE_MARGIN_SECONDS + 2
    assert warned(caplog, "could not write the transfer log")  # the end reports the loss
    assert not [t for t in threading.enumerate() if isinstance(t, threading.Timer)]


def test_entries_dynamodb_left_unprocessed_once_are_stored_as_recorded_when_sent_again(table, caplog):
    log = DynamoTransferLog(table, timedelta(days=30))
    answers = always_unprocessed(table, times=1)
    with log.batched():
        log.record(entry(1))
        log.record(entry(2, tenant_id="blåbær & søn"))
    assert len(answers) == 1
    assert stored(table) == ["event-1", "event-2"]
    [second] = log.query("blåbær & søn")
    assert second == entry(2, tenant_id="blåbær & søn")
    assert not warned(caplog, "could not write the transfer log")
