"""RequestPacer: one request in flight per key, at most 4 starts in any window, keys independent;
checked against the Fiken emulator's own rate rule on one manual clock."""

from __future__ import annotations

import random
import threading
import time

import pytest

from emulators.fiken.rate_rule import RateRule
from momentsync.connectors.fiken.pacing import (
    DEFAULT_WINDOW_SECONDS,
    MAX_STARTS_PER_WINDOW,
    RequestPacer,
    default_pacer,
)


class FakeClock:
    """A monotonic clock that only moves when someone sleeps or advances it (thread-safe)."""

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


def paced(clock: FakeClock, window: float = 1.0, **kwargs) -> RequestPacer:
    return RequestPacer(window, clock=clock.monotonic, sleep=clock.sleep, **kwargs)


def run(pacer: RequestPacer, clock: FakeClock, key: str, count: int, latency: float = 0.05) -> list[float]:
    """``count`` requests of ``key`` one after another, each taking ``latency``; their start times."""
    starts = []
    for _ in range(count):
        with pacer.slot(key):
            starts.append(clock.monotonic())
            clock.advance(latency)
    return starts


# ---------------------------------------------------------------- the window
def test_an_idle_keys_first_four_requests_start_at_once(clock: FakeClock) -> None:
    """An event of 3 Fiken calls on an idle tenant no longer waits 2 x 255 ms between them."""
    starts = run(paced(clock), clock, "tenant-a", 4)
    assert clock.sleeps == []
    assert [round(s - starts[0], 6) for s in starts] == [0.0, 0.05, 0.1, 0.15]  # only the requests' own time


def test_the_fifth_request_waits_until_the_first_leaves_the_window(clock: FakeClock) -> None:
    starts = run(paced(clock, 1.02), clock, "tenant-a", 5)
    assert round(starts[4] - starts[0], 6) == 1.02
    assert clock.sleeps == pytest.approx([1.02 - 4 * 0.05])  # only the part of the window not spent


def test_a_backlog_never_puts_more_than_four_starts_in_a_window_and_keeps_the_rate(clock: FakeClock) -> None:
    starts = run(paced(clock, 1.02), clock, "tenant-a", 401, latency=0.08)
    spans = [b - a for a, b in zip(starts, starts[4:], strict=False)]
    assert min(spans) >= 1.02 - 1e-9  # any 5 consecutive starts: never 5 inside one window
    rate = (len(starts) - 1) / (starts[-1] - starts[0])
    assert 4 / 1.02 * 0.99 <= rate <= 4 / 1.02 + 1e-9  # the ceiling, sustained: 3.92 requests per second


def test_when_the_requests_are_slow_one_in_flight_binds_and_the_window_never_waits(clock: FakeClock) -> None:
    starts = run(paced(clock, 1.02), clock, "tenant-a", 20, latency=0.3)
    assert clock.sleeps == []  # 4 x 300 ms > 1.02 s: each request starts as the previous one ends
    assert [round(b - a, 6) for a, b in zip(starts, starts[1:], strict=False)] == [0.3] * 19


def test_no_wait_once_the_window_has_passed(clock: FakeClock) -> None:
    pacer = paced(clock, 1.02)
    run(pacer, clock, "tenant-a", 4, latency=0.0)
    clock.advance(1.02)
    run(pacer, clock, "tenant-a", 4, latency=0.0)
    assert clock.sleeps == []


def test_a_partly_filled_window_lets_the_rest_of_the_burst_through(clock: FakeClock) -> None:
    pacer = paced(clock, 1.0)
    run(pacer, clock, "tenant-a", 2, latency=0.0)
    clock.advance(0.6)
    starts = run(pacer, clock, "tenant-a", 3, latency=0.0)
    # Two fit at once (4 in the window), the third waits for the first start to leave it (at t = 1.0).
    assert [round(s - 1000.0, 6) for s in starts] == [0.6, 0.6, 1.0]


def test_keys_are_paced_independently(clock: FakeClock) -> None:
    pacer = paced(clock)
    run(pacer, clock, "tenant-a", 4, latency=0.0)
    run(pacer, clock, "tenant-b", 4, latency=0.0)  # tenant-a's full window does not hold tenant-b
    assert clock.sleeps == []


def test_the_window_is_measured_from_starts_not_from_ends(clock: FakeClock) -> None:
    pacer = paced(clock, 1.0)
    starts = run(pacer, clock, "tenant-a", 5, latency=0.2)
    assert round(starts[4] - starts[0], 6) == 1.0  # not 1.0 after the first request's end (1.2)


# ---------------------------------------------------------------- one in flight, threads
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


def test_concurrent_threads_keep_the_window(clock: FakeClock) -> None:
    pacer = paced(clock, 1.0)
    starts: list[float] = []

    def worker() -> None:
        for _ in range(5):
            with pacer.slot("tenant-a"):
                starts.append(clock.monotonic())

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=5)
    starts.sort()
    assert len(starts) == 20
    assert all(b - a >= 1.0 - 1e-9 for a, b in zip(starts, starts[4:], strict=False))


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
    pacer = paced(clock)
    with pytest.raises(RuntimeError), pacer.slot("tenant-a"):
        raise RuntimeError("request failed")
    with pacer.slot("tenant-a"):  # would dead-lock if the slot were still held
        pass


# ---------------------------------------------------------------- settings
@pytest.mark.parametrize(
    "kwargs",
    [{"window": -0.1}, {"max_starts": 0}, {"app_min_interval": -0.1}],
    ids=["negative-window", "no-starts", "negative-app-interval"],
)
def test_impossible_settings_are_refused(kwargs) -> None:
    with pytest.raises(ValueError):
        RequestPacer(**kwargs)


def test_default_pacer_is_shared_and_uses_fikens_documented_rate() -> None:
    assert default_pacer() is default_pacer()
    assert (default_pacer().window, default_pacer().max_starts) == (1.02, 4)
    assert (DEFAULT_WINDOW_SECONDS, MAX_STARTS_PER_WINDOW) == (1.02, 4)


def test_the_processors_window_is_read_from_the_environment(monkeypatch) -> None:
    from momentsync.settings import ProcessorSettings

    assert ProcessorSettings.model_fields["fiken_request_window_seconds"].default == DEFAULT_WINDOW_SECONDS
    monkeypatch.setenv("FIKEN_REQUEST_WINDOW_SECONDS", "2.5")
    fields = {name: "x" for name, f in ProcessorSettings.model_fields.items() if f.is_required()}
    assert ProcessorSettings(**fields).fiken_request_window_seconds == 2.5


# ---------------------------------------------------------------- the app-wide option
def test_the_app_wide_limit_is_off_by_default(clock: FakeClock) -> None:
    assert RequestPacer().app_min_interval is None
    from momentsync.settings import ProcessorSettings

    assert ProcessorSettings.model_fields["fiken_app_min_request_interval_seconds"].default is None


def test_the_app_wide_limit_spaces_every_tenant_together(clock: FakeClock) -> None:
    pacer = paced(clock, app_min_interval=0.25)
    starts = []
    for key in ("tenant-a", "tenant-b", "tenant-c", "tenant-a"):
        with pacer.slot(key):
            starts.append(clock.monotonic())
            clock.advance(0.05)
    # Different tenants, each with an empty window, still 0.25 s apart: 4 starts per second for the app.
    assert [round(b - a, 6) for a, b in zip(starts, starts[1:], strict=False)] == [0.25, 0.25, 0.25]


def test_with_the_app_wide_limit_a_keys_window_still_holds(clock: FakeClock) -> None:
    pacer = paced(clock, 1.02, app_min_interval=0.1)
    starts = run(pacer, clock, "tenant-a", 5, latency=0.0)
    assert [round(s - starts[0], 6) for s in starts] == [0.0, 0.1, 0.2, 0.3, 1.02]


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


# ---------------------------------------------------------------- against the emulator's rule
# How much later than the pacer's clock a request may reach Fiken (connection set-up, a pause between
# the pacer and the socket), drawn per request. The default window (1.02 s) is meant to absorb a
# first-of-five request that arrives up to 40 ms later than the fifth (its 20 ms plus the emulator's
# 20 ms tolerance); 35 ms stays inside that.
ARRIVAL_SKEW = 0.035


def simulate(pacer: RequestPacer, clock: FakeClock, rng: random.Random, *, skew: float) -> RateRule:
    """One random request pattern through ``pacer``, each request judged by Fiken's rule as the
    emulator applies it (``RateRule``), on the same manual clock: random idle gaps (none, short, or
    long enough to empty the window), 1-3 tenants, latencies 0-400 ms."""
    rule = RateRule(clock=clock.monotonic)
    keys = [f"tenant-{k}" for k in range(rng.randint(1, 3))]
    for _ in range(rng.randint(5, 40)):
        clock.advance(rng.choice([0.0, 0.0, rng.uniform(0.0, 0.3), rng.uniform(0.0, 2.5)]))
        key = rng.choice(keys)
        with pacer.slot(key):
            clock.advance(rng.uniform(0.0, skew))  # on its way to Fiken
            if rule.try_start(key) is None:
                clock.advance(rng.uniform(0.0, 0.4))  # Fiken answering
                rule.finish(key)
            clock.advance(rng.uniform(0.0, skew))  # the answer on its way back
    return rule


def test_thousands_of_random_patterns_never_get_a_rate_refusal_from_fikens_rule() -> None:
    rng = random.Random(18)
    refusals = {"concurrent": 0, "rate": 0}
    for _ in range(3000):
        clock = FakeClock()
        rule = simulate(paced(clock, DEFAULT_WINDOW_SECONDS), clock, rng, skew=ARRIVAL_SKEW)
        for reason, count in rule.rejected_by_reason.items():
            refusals[reason] += count
    assert refusals == {"concurrent": 0, "rate": 0}


@pytest.mark.parametrize("window", [0.9, 1.0], ids=["short-window", "no-margin"])
def test_the_same_patterns_are_refused_without_the_margin(window: float) -> None:
    """The simulation can fail: a window shorter than Fiken's second, or one of exactly 1 s with
    requests reaching Fiken up to 35 ms late, gets "rate" refusals from the same rule."""
    rng = random.Random(18)

    def refused() -> int:
        clock = FakeClock()
        return simulate(paced(clock, window), clock, rng, skew=ARRIVAL_SKEW).rejected_by_reason["rate"]

    # Stops at the first refusal (the 13th pattern for both, with this seed).
    assert any(refused() for _ in range(3000)), "the simulation cannot see a too-fast pacer"


# ------------------------------------------------ the start counts from when the request leaves
def test_a_request_that_leaves_late_counts_from_when_it_left(clock: FakeClock) -> None:
    """The first request waits 0.3 s for a new connection before its bytes leave: Fiken sees it start
    then, so the fifth may only start a window after that, not a window after the slot was granted."""
    pacer = paced(clock, window=1.0)
    with pacer.slot("tenant-a") as leaving:
        clock.advance(0.3)  # connecting: the server had closed the idle connection
        leaving()
        first_left = clock.monotonic()
    for _ in range(3):
        with pacer.slot("tenant-a") as leaving:
            leaving()
    with pacer.slot("tenant-a"):
        assert clock.monotonic() == pytest.approx(first_left + 1.0)


def test_leaving_late_against_fikens_rule_never_gets_a_rate_refusal(clock: FakeClock) -> None:
    """On one clock with the emulator's rule, which counts a start when the request arrives: random
    delays between the grant and the bytes leaving (new connections, a busy CPU) are all absorbed."""
    rng = random.Random(18)
    rule = RateRule(clock=clock.monotonic, tolerance=0.0)
    pacer = paced(clock, window=DEFAULT_WINDOW_SECONDS)
    for _ in range(2_000):
        with pacer.slot("tenant-a") as leaving:
            clock.advance(rng.choice([0.0, 0.0, rng.uniform(0, 0.4)]))
            leaving()
            assert rule.try_start("tenant-a") is None
            clock.advance(rng.uniform(0.001, 0.1))
            rule.finish("tenant-a")
        if rng.random() < 0.2:
            clock.advance(rng.uniform(0, 2))


def test_without_leaving_the_grant_time_counts_and_late_arrivals_are_refused(clock: FakeClock) -> None:
    """The same delays, with the start kept at the grant (the pacer before this change): refused."""
    rng = random.Random(18)
    rule = RateRule(clock=clock.monotonic, tolerance=0.0)
    pacer = paced(clock, window=DEFAULT_WINDOW_SECONDS)
    refused = 0
    for _ in range(2_000):
        with pacer.slot("tenant-a"):
            clock.advance(rng.choice([0.0, 0.0, rng.uniform(0, 0.4)]))
            if rule.try_start("tenant-a") is None:
                clock.advance(rng.uniform(0.001, 0.1))
                rule.finish("tenant-a")
            else:
                refused += 1
        if rng.random() < 0.2:
            clock.advance(rng.uniform(0, 2))
    assert refused > 0
