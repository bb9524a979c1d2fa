"""The backfill plan's adoption rules (issue 15), with in-memory fakes of Moment, the books and our links:
one target record is adopted by at most one Moment record, and a key two Moment records share adopts
for neither."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from momentsync.operations.backfill import ADOPT, CREATE, LINKED, plan_backfill
from momentsync.sync.sync_state import SyncLink
from momentsync.tenants import TargetSystem, Tenant


@dataclass
class MomentCustomer:
    id: int
    customer_number: str
    organization_number: str | None


class Books:
    """A target whose list is matched by organisation number; a search finds by customer number."""

    def __init__(self, contacts: dict[str, str], numbers: dict[str, str] | None = None) -> None:
        self.contacts = contacts  # org -> contact id
        self.numbers = numbers or {}  # customer number -> contact id (what a search finds)
        self.searched: list[int] = []

    def natural_keys(self, entity_type: str) -> dict[str, str]:
        return {f"org:{org}": contact for org, contact in self.contacts.items()}

    def natural_keys_of(self, entity_type: str, record: Any) -> list[str]:
        return [f"org:{record.organization_number}"] if record.organization_number else []

    def search_natural_key(self, entity_type: str, record: Any) -> str | None:
        self.searched.append(record.id)
        return self.numbers.get(record.customer_number)


class Links:
    def __init__(self, linked: dict[int, str]) -> None:
        self.linked = linked

    def get(self, tenant_id: str, entity_type: str, moment_id: int) -> SyncLink | None:
        remote = self.linked.get(moment_id)
        return (
            SyncLink(tenant_id=tenant_id, entity_type=entity_type, moment_id=moment_id, remote_id=remote)
            if remote
            else None
        )


class Moment:
    def __init__(self, customers: list[MomentCustomer]) -> None:
        self.customers = customers

    def list_customers(self) -> list[MomentCustomer]:
        return self.customers

    def list_projects(self) -> list[Any]:
        return []

    def list_invoices(self) -> list[Any]:
        return []


TENANT = Tenant(
    tenant_id="konsern",
    name="Konsern AS",
    target=TargetSystem.FIKEN,
    moment_company_code="konsern",
    fiken_company_slug="konsern-as",
    webhook_secret_hash="0" * 64,
    created_at=datetime(2026, 1, 1, tzinfo=UTC),
    updated_at=datetime(2026, 1, 1, tzinfo=UTC),
)


def plan(customers, books, linked) -> dict[int, tuple[str, str | None]]:
    result = plan_backfill(
        TENANT,
        moment=Moment(customers),
        target=books,
        links=Links(linked),
        entities=("customer",),
    )
    return {r.moment_id: (r.action, r.remote_id) for r in result.records}


def test_a_contact_linked_to_one_customer_is_not_adopted_by_another_with_its_organisation_number():
    oslo = MomentCustomer(1, "101001", "912345670")
    bergen = MomentCustomer(2, "101002", "912345670")
    assert plan([oslo, bergen], Books({"912345670": "c1"}), {1: "c1"}) == {
        1: (LINKED, "c1"),
        2: (CREATE, None),
    }


def test_a_shared_organisation_number_adopts_for_neither_each_is_searched_by_its_own_key():
    oslo = MomentCustomer(1, "101001", "912345670")
    bergen = MomentCustomer(2, "101002", "912345670")
    books = Books({"912345670": "c1"}, numbers={"101001": "c1"})
    assert plan([bergen, oslo], books, {}) == {2: (CREATE, None), 1: (ADOPT, "c1")}
    assert sorted(books.searched) == [1, 2]


def test_an_organisation_number_of_one_customer_only_is_matched_from_the_list_without_a_search():
    books = Books({"912345670": "c1"})
    assert plan([MomentCustomer(1, "101001", "912345670")], books, {}) == {1: (ADOPT, "c1")}
    assert books.searched == []
