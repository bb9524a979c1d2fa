"""Attack on issue 17's fakes: the in-memory sync state and DynamoSyncState (moto) must agree on which
Moment state is newer, whatever form Moment's timestamp takes (an offset, a fraction of a second).

The fake compares instants; a conditional write that compares the stored ISO strings does not:
"09:00:00.500000Z" sorts before "09:00:00Z", and "10:30:00+02:00" (08:30 UTC) after "09:00:00Z"."""

from __future__ import annotations

from datetime import timedelta, timezone

import pytest

from momentsync.sync.sync_state import StaleWrite
from tests.fakes.records import NOW
from tests.unit.test_port_contracts import aws, link, sync_state  # noqa: F401 - fixtures

OSLO_SUMMER = timezone(timedelta(hours=2))


def test_half_a_second_later_is_newer(sync_state):  # noqa: F811 - the fixture
    sync_state.save(link(remote_id="55", source_modified_at=NOW))
    sync_state.save(link(remote_id="56", source_modified_at=NOW + timedelta(milliseconds=500)))
    assert sync_state.get("acme", "customer", 7).remote_id == "56"


def test_an_older_state_written_with_an_offset_is_refused(sync_state):  # noqa: F811 - the fixture
    sync_state.save(link(remote_id="55", source_modified_at=NOW))
    earlier = (NOW - timedelta(minutes=30)).astimezone(OSLO_SUMMER)  # "07:30+02:00" sorts after "08:00Z"
    with pytest.raises(StaleWrite):
        sync_state.save(link(remote_id="66", source_modified_at=earlier))
    assert sync_state.get("acme", "customer", 7).remote_id == "55"


def test_a_newer_state_after_one_stored_with_an_offset_lands(sync_state):  # noqa: F811 - the fixture
    sync_state.save(link(remote_id="55", source_modified_at=NOW.astimezone(OSLO_SUMMER)))  # "10:00+02:00"
    sync_state.save(link(remote_id="56", source_modified_at=NOW + timedelta(minutes=30)))  # "08:30Z"
    assert sync_state.get("acme", "customer", 7).remote_id == "56"


def test_a_link_saved_before_the_instant_attribute_keeps_its_protection(aws):  # noqa: F811 - the fixture
    from momentsync.aws.sync_state import SOURCE_INSTANT, DynamoSyncState
    from tests.unit.test_port_contracts import template_table

    table = template_table("SyncStateTable")
    state = DynamoSyncState(table)
    state.save(link(remote_id="55", source_modified_at=NOW))
    table.update_item(
        Key={"tenant_id": "acme", "record_key": "customer#7"},
        UpdateExpression="REMOVE #i",
        ExpressionAttributeNames={"#i": SOURCE_INSTANT},
    )  # as an older release wrote it
    with pytest.raises(StaleWrite):
        state.save(link(remote_id="54", source_modified_at=NOW - timedelta(hours=1)))
    state.save(link(remote_id="56", source_modified_at=NOW + timedelta(hours=1)))
    assert state.get("acme", "customer", 7).remote_id == "56"
    assert SOURCE_INSTANT in table.get_item(Key={"tenant_id": "acme", "record_key": "customer#7"})["Item"]


# ---------------------------------------------------------------------------- one-time tokens
class Clock:
    def __init__(self) -> None:
        self.now = NOW.timestamp()

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["fake", "moto"])
def one_time_tokens(request, aws):  # noqa: F811 - the fixture
    from momentsync.aws.one_time_tokens import DynamoOneTimeTokens
    from tests.fakes.connect import InMemoryOneTimeTokens
    from tests.unit.test_port_contracts import template_table

    clock = Clock()
    store = (
        InMemoryOneTimeTokens(clock)
        if request.param == "fake"
        else DynamoOneTimeTokens(template_table("AuthTable"), clock=clock)
    )
    return store, clock


def test_one_time_tokens_issue_an_expiry_as_a_datetime_spend_once_and_expire(one_time_tokens):
    from momentsync.connect.links import OneTimeTokenKind, OneTimeTokenRejected, create_connect_link

    store, clock = one_time_tokens
    kind = OneTimeTokenKind.CONNECT_LINK
    token, expires_at = store.issue(kind, "acme", timedelta(hours=1), {"allow_company": "acme-as"})
    assert expires_at == NOW + timedelta(hours=1)  # a datetime, as the port says
    link = create_connect_link(store, base_url="https://x.test", tenant_id="acme", ttl=timedelta(hours=1))
    assert link.expires_at.isoformat() == (NOW + timedelta(hours=1)).isoformat()

    assert store.peek(kind, token).tenant_id == "acme"
    grant = store.consume(kind, token)
    assert (grant.tenant_id, grant.data) == ("acme", {"allow_company": "acme-as"})
    with pytest.raises(OneTimeTokenRejected) as spent:
        store.consume(kind, token)
    assert spent.value.problem == "unknown"

    late, _ = store.issue(kind, "acme", timedelta(minutes=5))
    clock.now += 301
    with pytest.raises(OneTimeTokenRejected) as expired:
        store.consume(kind, late)
    assert (expired.value.problem, expired.value.tenant_id) == ("expired", "acme")
    with pytest.raises(OneTimeTokenRejected):
        store.consume(kind, late)
    with pytest.raises(OneTimeTokenRejected):
        store.consume(OneTimeTokenKind.OAUTH_STATE, token)


# ---------------------------------------------------------------------------- leases
@pytest.fixture(params=["fake", "moto"])
def leases(request, aws):  # noqa: F811 - the fixture
    from momentsync.aws.leases import DynamoLeaseLock
    from tests.fakes.connect import InMemoryLeases
    from tests.unit.test_port_contracts import template_table

    if request.param == "fake":
        return InMemoryLeases()
    return DynamoLeaseLock(template_table("AuthTable"), wait_seconds=0.0, sleep=lambda _s: None)


def test_a_held_lease_is_a_lease_and_a_second_holder_gets_a_transient_error(leases):
    """The use cases hold leases around Fiken token refreshes: a busy lease must fail as the adapter's
    does (a TransientError: the event comes back later), not as an unexpected error."""
    from momentsync.aws.leases import Lease
    from momentsync.errors import TransientError

    with leases.hold("tokens#acme", wait_seconds=0) as lease:
        assert isinstance(lease, Lease) and lease.name == "tokens#acme"
        with pytest.raises(TransientError), leases.hold("tokens#acme", wait_seconds=0):
            pass
        with leases.hold("tokens#other", wait_seconds=0) as other:
            assert other.name == "tokens#other"
    with leases.hold("tokens#acme", wait_seconds=0) as again:
        assert again.name == "tokens#acme"
