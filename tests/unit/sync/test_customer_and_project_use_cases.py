"""``sync_customer`` and ``sync_project`` against in-memory fakes: re-fetch and converge, adopt by
natural key, no request for an unchanged record, an older Moment state never overwrites a newer one,
and the rules every target shares (a start date, a project number that never changes)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from momentsync.errors import PermanentError, WaitingError
from momentsync.sync.customers import sync_customer
from momentsync.sync.projects import sync_project
from momentsync.sync.sync_state import content_hash
from momentsync.sync.transfer_log import Outcome
from momentsync.tenants import TransferSettings
from tests.fakes import InMemoryBooks, InMemoryMoment, InMemorySyncState
from tests.fakes.records import NOW, customer, project, session


@pytest.fixture
def moment() -> InMemoryMoment:
    return InMemoryMoment()


def test_a_new_customer_is_created_once_and_linked(moment, books, state):
    moment.add(customer(7))

    result = sync_customer(session(moment, books, state), 7, direct=True)

    assert result.outcome is Outcome.SYNCED
    assert books.calls == ["find_contact", "create_contact"]  # looked up by its number before the POST
    link = state.get("acme", "customer", 7)
    assert (link.remote_id, link.remote_number, link.source_modified_at) == (result.remote_id, "100007", NOW)


def test_an_unchanged_customer_costs_no_request_and_a_changed_one_one_replace(moment, books, state):
    moment.add(customer(7))
    sync_customer(session(moment, books, state), 7)
    books.calls.clear()

    assert sync_customer(session(moment, books, state), 7).outcome is Outcome.UNCHANGED
    assert books.calls == []

    moment.add(customer(7, email="faktura@fjordlys.example", last_modified=NOW + timedelta(minutes=5)))
    result = sync_customer(session(moment, books, state), 7)
    assert result.outcome is Outcome.SYNCED and books.calls == ["replace_contact"]
    assert books.contacts[result.remote_id]["email"] == "faktura@fjordlys.example"


def test_a_customer_already_in_the_books_is_adopted_by_its_number_not_created_again(moment, books, state):
    moment.add(customer(7))
    sync_customer(session(moment, books, InMemorySyncState()), 7)  # made earlier (state since lost)
    books.calls.clear()

    result = sync_customer(session(moment, books, state), 7)

    assert result.outcome is Outcome.SYNCED
    assert books.calls == ["find_contact", "replace_contact"] and len(books.contacts) == 1


def test_an_unchanged_answer_still_records_the_newer_moment_version_for_the_sweep(moment, books, state):
    moment.add(customer(7))
    sync_customer(session(moment, books, state), 7)
    later = NOW + timedelta(hours=2)
    moment.add(customer(7, last_modified=later))  # a field we do not map changed

    assert sync_customer(session(moment, books, state), 7).outcome is Outcome.UNCHANGED
    assert state.get("acme", "customer", 7).source_modified_at == later
    saves = len(state.saves)
    sync_customer(session(moment, books, state), 7)  # the same version again: no write
    assert len(state.saves) == saves


def test_an_older_moment_state_never_overwrites_a_newer_one(moment, books, state):
    newer = NOW + timedelta(hours=1)
    moment.add(customer(7, name="Fjordlys Nye AS", last_modified=newer))
    sync_customer(session(moment, books, state), 7)

    # A replay that re-fetched before the rename, finishing after it: its state is dropped.
    moment.add(customer(7, name="Fjordlys AS", last_modified=NOW))
    sync_customer(session(moment, books, state), 7)

    link = state.get("acme", "customer", 7)
    assert link.source_modified_at == newer
    assert link.content_hash == books_hash_of(books, customer(7, name="Fjordlys Nye AS"))


def books_hash_of(books: InMemoryBooks, record) -> str:
    return content_hash(books.customer_content(record))


def test_customers_in_a_state_not_chosen_are_skipped_on_their_own_events(moment, books, state):
    moment.add(customer(7, customer_state="inactive"))
    choices = TransferSettings(customer_states=["active"])

    result = sync_customer(session(moment, books, state, transfer=choices), 7, direct=True)

    assert result.outcome is Outcome.SKIPPED and "customer state inactive" in result.reason
    assert books.calls == []


def test_a_deleted_customer_we_linked_is_deleted_and_an_unknown_one_not_found(moment, books, state):
    moment.add(customer(7))
    sync_customer(session(moment, books, state), 7)
    del moment.customers[7]

    assert sync_customer(session(moment, books, state), 7).outcome is Outcome.DELETED
    assert sync_customer(session(moment, books, state), 8).outcome is Outcome.NOT_FOUND
    assert len(books.contacts) == 1


def test_a_project_brings_its_customer_first(moment, books, state):
    moment.add(customer(7), project(3, 7))

    result = sync_project(session(moment, books, state), 3, direct=True)

    assert result.outcome is Outcome.SYNCED
    customer_id = state.get("acme", "customer", 7).remote_id
    assert books.projects[result.remote_id]["contact"] == customer_id
    assert books.calls.index("create_contact") < books.calls.index("create_project")


def test_a_project_without_a_start_date_waits_for_its_next_change(moment, books, state):
    moment.add(customer(7), project(3, 7, start_date=None))

    with pytest.raises(WaitingError, match="no start date"):
        sync_project(session(moment, books, state), 3)
    assert books.calls == []


def test_a_project_number_changed_in_moment_is_refused_with_the_remedy(moment, books, state):
    moment.add(customer(7), project(3, 7))
    sync_project(session(moment, books, state), 3)
    moment.add(project(3, 7, project_number="P99", last_modified=NOW + timedelta(days=1)))
    calls = len(books.calls)

    with pytest.raises(PermanentError, match="from P3 to P99.*change it back in Moment"):
        sync_project(session(moment, books, state), 3)
    assert books.calls[calls:] == []


def test_a_project_already_in_the_books_is_adopted_by_its_number(moment, books, state):
    moment.add(customer(7), project(3, 7))
    sync_project(session(moment, books, InMemorySyncState()), 3)

    result = sync_project(session(moment, books, state), 3)

    assert result.outcome is Outcome.SYNCED and len(books.projects) == 1
    assert books.calls.count("create_project") == 1


def test_a_project_without_a_customer_is_synced_without_one(moment, books, state):
    moment.add(project(3, None))

    result = sync_project(session(moment, books, state), 3)

    assert result.outcome is Outcome.SYNCED and books.projects[result.remote_id]["contact"] is None
    assert books.contacts == {}
