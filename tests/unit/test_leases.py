"""The DynamoDB lease lock, on the local stack's auth table (moto evaluates the conditions)."""

from __future__ import annotations

import threading
import time
import uuid

import pytest

from momentsync.aws.leases import DynamoLeaseLock, LeaseBusy
from momentsync.errors import TransientError
from tests.moto_interleavings import conditional_puts_meet


class FakeTime:
    """A clock that moves only when slept on (or told to), so waits take no real time."""

    def __init__(self) -> None:
        self.now = time.time()
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@pytest.fixture
def auth_table(stack):
    return stack.aws.resource("dynamodb").Table(stack.physical("AuthTable"))


@pytest.fixture
def name() -> str:
    return f"test#{uuid.uuid4().hex}"


def lock(table, fake: FakeTime, **options) -> DynamoLeaseLock:
    return DynamoLeaseLock(table, clock=fake, sleep=fake.sleep, **options)


def test_a_free_lease_is_taken_once_and_free_again_after_release(auth_table, name):
    fake = FakeTime()
    first, second = lock(auth_table, fake), lock(auth_table, fake)

    lease = first.try_acquire(name)
    assert lease is not None
    assert second.try_acquire(name) is None
    assert first.release(lease) is True
    assert second.try_acquire(name) is not None


def test_an_expired_lease_is_taken_over_and_its_late_release_keeps_the_new_holder(auth_table, name):
    fake = FakeTime()
    slow, other = lock(auth_table, fake, lease_seconds=30), lock(auth_table, fake, lease_seconds=30)
    stale = slow.try_acquire(name)
    assert stale is not None

    fake.now += 29
    assert other.try_acquire(name) is None  # still held
    fake.now += 3
    fresh = other.try_acquire(name)
    assert fresh is not None

    assert slow.release(stale) is False  # conditional on owner: the successor's lease survives
    assert slow.try_acquire(name) is None
    assert other.release(fresh) is True


def test_waiting_is_bounded_and_ends_in_a_transient_error(auth_table, name):
    fake = FakeTime()
    holder, waiter = lock(auth_table, fake, lease_seconds=60), lock(auth_table, fake, poll_seconds=0.5)
    assert holder.try_acquire(name) is not None

    with pytest.raises(LeaseBusy) as raised:
        waiter.acquire(name, wait_seconds=3)

    assert isinstance(raised.value, TransientError)
    assert sum(fake.slept) == pytest.approx(3)
    assert max(fake.slept) <= 0.5


def test_a_waiter_gets_the_lease_once_the_holder_releases(auth_table, name):
    fake = FakeTime()
    holder = lock(auth_table, fake)
    lease = holder.try_acquire(name)
    assert lease is not None
    sleeps = 0

    def sleep_then_release(seconds: float) -> None:
        nonlocal sleeps
        sleeps += 1
        fake.sleep(seconds)
        if sleeps == 3:
            holder.release(lease)

    waiter = DynamoLeaseLock(auth_table, clock=fake, sleep=sleep_then_release, wait_seconds=10)
    assert waiter.acquire(name).owner != lease.owner
    assert sleeps == 3


def test_hold_releases_when_the_work_fails(auth_table, name):
    fake = FakeTime()
    leases = lock(auth_table, fake)

    with pytest.raises(RuntimeError), leases.hold(name):
        raise RuntimeError("work failed")

    assert leases.try_acquire(name) is not None


def test_threads_never_hold_the_same_lease_at_once(auth_table, name):
    """Four threads race on the real conditional put. The clock stands still, so no lease ever runs
    out and no wait ever ends by time: a holder is only ever replaced after its release, however
    slowly a loaded machine runs the threads (waits end in a lease, never in LeaseBusy)."""
    frozen = time.time()
    start = threading.Barrier(4)
    inside, overlaps, done = 0, 0, 0
    guard = threading.Lock()
    failures: list[BaseException] = []

    def work() -> None:
        nonlocal inside, overlaps, done
        leases = DynamoLeaseLock(auth_table, poll_seconds=0.001, clock=lambda: frozen, sleep=time.sleep)
        try:
            start.wait(10)
            for _ in range(3):
                with leases.hold(name):
                    with guard:
                        inside += 1
                        overlaps += inside > 1
                    time.sleep(0.005)  # others try (and must fail) while this one holds
                    with guard:
                        inside -= 1
                        done += 1
        except BaseException as exc:  # noqa: BLE001 - reported below, not lost in the thread
            failures.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)

    assert failures == [] and not any(thread.is_alive() for thread in threads)
    assert (overlaps, done) == (0, 12)


def test_two_puts_that_read_the_free_lease_together_still_give_it_to_one(auth_table, name):
    """The CI flake's root: moto read "no lease" for both puts before either wrote, and both won.
    DynamoDB decides a conditional put atomically; so must the local stack's moto."""
    fake = FakeTime()
    start = threading.Barrier(2)
    leases: list[object] = []

    def take() -> None:
        start.wait(10)
        leases.append(lock(auth_table, fake).try_acquire(name))

    with conditional_puts_meet(f"lease#{name}"):
        threads = [threading.Thread(target=take) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)

    assert len(leases) == 2
    assert sum(lease is not None for lease in leases) == 1
