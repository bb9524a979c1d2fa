"""RequestPacer: one request in flight per key, spacing between starts, keys independent."""

from __future__ import annotations

import threading
import time

import pytest

from momentsync.connectors.fiken.pacing import RequestPacer, default_pacer


class FakeClock:
    """A monotonic clock that only moves when someone sleeps (thread-safe)."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []
        self._lock = threading.Lock()

    def monotonic(self) -> float:
        with self._lock:
            return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)
            self.now += seconds

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def test_first_request_starts_at_once(clock: FakeClock) -> None:
    pacer = RequestPacer(0.25, clock=clock.monotonic, sleep=clock.sleep)
    with pacer.slot("tenant-a"):
        pass
    assert clock.sleeps == []


def test_two_requests_start_at_least_min_interval_apart(clock: FakeClock) -> None:
    pacer = RequestPacer(0.25, clock=clock.monotonic, sleep=clock.sleep)
    starts = []
    for _ in range(3):
        with pacer.slot("tenant-a"):
            starts.append(clock.monotonic())
            clock.advance(0.05)  # the request itself takes 50 ms
    assert [round(b - a, 6) for a, b in zip(starts, starts[1:], strict=False)] == [0.25, 0.25]
    assert clock.sleeps == pytest.approx([0.2, 0.2])  # only the part of the interval not spent already


def test_no_wait_when_the_interval_has_passed(clock: FakeClock) -> None:
    pacer = RequestPacer(0.25, clock=clock.monotonic, sleep=clock.sleep)
    with pacer.slot("tenant-a"):
        pass
    clock.advance(1.0)
    with pacer.slot("tenant-a"):
        pass
    assert clock.sleeps == []


def test_keys_are_spaced_independently(clock: FakeClock) -> None:
    pacer = RequestPacer(0.25, clock=clock.monotonic, sleep=clock.sleep)
    with pacer.slot("tenant-a"):
        pass
    with pacer.slot("tenant-b"):
        pass
    assert clock.sleeps == []


def test_concurrent_threads_never_overlap_on_one_key() -> None:
    pacer = RequestPacer(0.0)
    in_flight = 0
    most_in_flight = 0
    counter_lock = threading.Lock()

    def worker() -> None:
        nonlocal in_flight, most_in_flight
        for _ in range(5):
            with pacer.slot("tenant-a"):
                with counter_lock:
                    in_flight += 1
                    most_in_flight = max(most_in_flight, in_flight)
                time.sleep(0.001)
                with counter_lock:
                    in_flight -= 1

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=5)
    assert most_in_flight == 1


def test_concurrent_threads_keep_the_spacing(clock: FakeClock) -> None:
    pacer = RequestPacer(0.25, clock=clock.monotonic, sleep=clock.sleep)
    starts: list[float] = []

    def worker() -> None:
        for _ in range(3):
            with pacer.slot("tenant-a"):
                starts.append(clock.monotonic())

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=5)
    starts.sort()
    assert len(starts) == 12
    assert all(b - a >= 0.25 - 1e-9 for a, b in zip(starts, starts[1:], strict=False))


def test_a_busy_key_blocks_its_own_requests_but_not_other_keys() -> None:
    pacer = RequestPacer(0.0)
    holding = threading.Event()
    release = threading.Event()
    same_key_entered = threading.Event()
    other_key_entered = threading.Event()

    def hold_a() -> None:
        with pacer.slot("tenant-a"):
            holding.set()
            release.wait(5)

    def enter(key: str, entered: threading.Event) -> None:
        with pacer.slot(key):
            entered.set()

    holder = threading.Thread(target=hold_a)
    holder.start()
    assert holding.wait(5)
    same = threading.Thread(target=enter, args=("tenant-a", same_key_entered))
    other = threading.Thread(target=enter, args=("tenant-b", other_key_entered))
    same.start()
    other.start()
    assert other_key_entered.wait(5)
    assert not same_key_entered.wait(0.05)
    release.set()
    assert same_key_entered.wait(5)
    for thread in (holder, same, other):
        thread.join(timeout=5)


def test_slot_is_released_when_the_request_fails(clock: FakeClock) -> None:
    pacer = RequestPacer(0.25, clock=clock.monotonic, sleep=clock.sleep)
    with pytest.raises(RuntimeError), pacer.slot("tenant-a"):
        raise RuntimeError("request failed")
    with pacer.slot("tenant-a"):  # would dead-lock if the slot were still held
        pass


def test_negative_interval_is_refused() -> None:
    with pytest.raises(ValueError):
        RequestPacer(-0.1)


def test_default_pacer_is_shared_and_uses_the_documented_interval() -> None:
    assert default_pacer() is default_pacer()
    assert default_pacer().min_interval == 0.255


def test_the_app_wide_limit_is_off_by_default(clock: FakeClock) -> None:
    assert RequestPacer().app_min_interval is None
    from momentsync.settings import ProcessorSettings

    assert ProcessorSettings.model_fields["fiken_app_min_request_interval_seconds"].default is None


def test_the_app_wide_limit_spaces_every_tenant_together(clock: FakeClock) -> None:
    pacer = RequestPacer(0.25, clock=clock.monotonic, sleep=clock.sleep, app_min_interval=0.25)
    starts = []
    for key in ("tenant-a", "tenant-b", "tenant-c", "tenant-a"):
        with pacer.slot(key):
            starts.append(clock.monotonic())
            clock.advance(0.05)
    # Different tenants, still 0.25 s apart: four starts per second for the whole app.
    assert [round(b - a, 6) for a, b in zip(starts, starts[1:], strict=False)] == [0.25, 0.25, 0.25]


def test_the_app_wide_limit_allows_one_request_in_flight_across_tenants() -> None:
    pacer = RequestPacer(0.0, app_min_interval=0.0)
    holding, release, other_entered = threading.Event(), threading.Event(), threading.Event()

    def hold_a() -> None:
        with pacer.slot("tenant-a"):
            holding.set()
            release.wait(5)

    def enter_b() -> None:
        with pacer.slot("tenant-b"):
            other_entered.set()

    holder = threading.Thread(target=hold_a)
    holder.start()
    assert holding.wait(5)
    other = threading.Thread(target=enter_b)
    other.start()
    assert not other_entered.wait(0.05)  # per key alone, tenant-b would have entered at once
    release.set()
    assert other_entered.wait(5)
    for thread in (holder, other):
        thread.join(timeout=5)


def test_the_app_wide_setting_is_read_from_the_environment(monkeypatch) -> None:
    from momentsync.settings import ProcessorSettings

    monkeypatch.setenv("FIKEN_APP_MIN_REQUEST_INTERVAL_SECONDS", "0.3")
    fields = {name: "x" for name, f in ProcessorSettings.model_fields.items() if f.is_required()}
    settings = ProcessorSettings(**fields)
    assert settings.fiken_app_min_request_interval_seconds == 0.3
