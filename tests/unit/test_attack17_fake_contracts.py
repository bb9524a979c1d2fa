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
