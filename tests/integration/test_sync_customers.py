"""Customers through the whole local pipeline into the Fiken emulator."""

from __future__ import annotations

import httpx

from momentsync.sync.transfer_log import Outcome


def fiken_api(pipeline) -> httpx.Client:
    """Fiken as a person using it sees it (another token, another app)."""
    token = pipeline.fiken.issue_tokens([pipeline.slug])["access_token"]
    return httpx.Client(
        base_url=f"{pipeline.fiken.api_base_url}/companies/{pipeline.slug}",
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )


def test_new_customer_becomes_one_fiken_customer_contact(pipeline):
    pipeline.mark()
    customer = pipeline.driver.create_customer(
        name="Fjord Consulting AS",
        organization_number="912345670",
        email="post@fjord.example",
        street="Storgata 1",
        post_code="0155",
        city="Oslo",
        country_code="NO",
    )
    pipeline.settle()

    [contact] = pipeline.contacts()
    assert contact["name"] == "Fjord Consulting AS"
    assert contact["customer"] is True
    assert contact["memberNumberString"] == customer.customer_number
    assert contact["organizationNumber"] == "912345670"
    assert contact["address"]["city"] == "Oslo" and contact["address"]["country"] == "Norway"
    entry = pipeline.last("customer", customer.id)
    assert entry.outcome is Outcome.SYNCED
    assert entry.remote_id == str(contact["contactId"])
    link = pipeline.link("customer", customer.id)
    assert link.remote_number == str(contact["customerNumber"])
    assert entry.remote_calls == len(pipeline.fiken_requests())
    # Lookup by memberNumberString, then by organization number, create, read back customerNumber.
    assert [(e.method, e.status) for e in pipeline.fiken_requests()] == [
        ("GET", 200),
        ("GET", 200),
        ("POST", 201),
        ("GET", 200),
    ]


def test_changed_customer_is_merged_into_fiken_keeping_what_fiken_owns(pipeline):
    customer = pipeline.driver.create_customer(name="Berg AS", email="a@berg.example")
    pipeline.settle()
    [contact] = pipeline.contacts()
    # A Fiken user adds a contact person and a group: Fiken's to keep, though PUT replaces everything.
    with fiken_api(pipeline) as api:
        fiken_copy = api.get(f"/contacts/{contact['contactId']}").json()
        fiken_copy.update(
            contactPerson=[{"name": "Kari Berg", "email": "kari@berg.example"}], groups=["Nøkkelkunder"]
        )
        for read_only in (
            "contactId",
            "createdDate",
            "lastModifiedDate",
            "customerNumber",
            "customerAccountCode",
        ):
            fiken_copy.pop(read_only, None)
        assert api.put(f"/contacts/{contact['contactId']}", json=fiken_copy).status_code == 200

    pipeline.mark()
    pipeline.driver.update_customer(customer.id, email="faktura@berg.example")
    pipeline.settle()
    pipeline.driver.update_customer(customer.id, name="Berg og Sønn AS")
    pipeline.settle()

    [contact] = pipeline.contacts()
    assert (contact["name"], contact["email"]) == ("Berg og Sønn AS", "faktura@berg.example")
    assert contact["customer"] is True
    assert [p["name"] for p in contact["contactPerson"]] == ["Kari Berg"]
    assert contact["groups"] == ["Nøkkelkunder"]
    methods = [e.method for e in pipeline.fiken_requests()]
    assert methods == ["GET", "PUT", "GET", "PUT"]  # two changes: GET-merge-PUT each, nothing else
    assert pipeline.last("customer", customer.id).outcome is Outcome.SYNCED


def test_unchanged_customer_costs_no_fiken_call(pipeline):
    customer = pipeline.driver.create_customer(name="Stille AS")
    pipeline.settle()
    pipeline.mark()
    pipeline.driver.notify("customer", customer.id)
    pipeline.settle()
    assert pipeline.fiken_requests() == []
    entry = pipeline.last("customer", customer.id)
    assert (entry.outcome, entry.remote_calls) == (Outcome.UNCHANGED, 0)


def test_deleted_customer_is_recorded_without_a_fiken_call(pipeline):
    customer = pipeline.driver.create_customer(name="Borte AS")
    pipeline.settle()
    pipeline.mark()
    pipeline.driver.delete_customer(customer.id)
    pipeline.settle()
    assert pipeline.fiken_requests() == []
    assert pipeline.last("customer", customer.id).outcome is Outcome.DELETED
    assert len(pipeline.contacts()) == 1  # nothing is deleted from the books


def test_duplicate_and_reordered_webhooks_converge_on_the_latest_state(pipeline):
    customer = pipeline.driver.create_customer(name="Versjon 1 AS")
    pipeline.driver.update_customer(customer.id, name="Versjon 2 AS")
    pipeline.driver.update_customer(customer.id, name="Versjon 3 AS")
    # A late duplicate of the first notice, after the newer ones: events are thin, Moment is re-read.
    pipeline.driver.notify("customer", customer.id, event="CREATE_NEW")
    pipeline.driver.notify("customer", customer.id)
    pipeline.settle()
    [contact] = pipeline.contacts()
    assert contact["name"] == "Versjon 3 AS"
    outcomes = [e.outcome for e in pipeline.log() if e.entity_id == customer.id]
    assert outcomes.count(Outcome.FAILED) == 0 and len(outcomes) == 5


def test_lost_create_response_does_not_duplicate_the_contact(pipeline):
    pipeline.fiken.fault_plan.script(
        "drop_after_apply", times=1, method="POST", path=rf"/companies/{pipeline.slug}/contacts$"
    )
    customer = pipeline.driver.create_customer(name="Tapt Svar AS", organization_number="998877665")
    pipeline.settle()
    [contact] = pipeline.contacts()
    assert contact["memberNumberString"] == customer.customer_number
    outcomes = [e.outcome for e in pipeline.log() if e.entity_id == customer.id]
    assert outcomes == [Outcome.RETRYING, Outcome.SYNCED]


def test_existing_fiken_contact_with_the_same_customer_number_is_adopted_not_duplicated(pipeline):
    customer = pipeline.moment.create_customer(pipeline.company, name="Fantes AS")
    with fiken_api(pipeline) as api:
        created = api.post(
            "/contacts",
            json={
                "name": "Fantes (manuelt)",
                "customer": True,
                "memberNumberString": customer.customer_number,
            },
        )
    assert created.status_code == 201
    pipeline.driver.notify("customer", customer.id, event="CREATE_NEW")
    pipeline.settle()
    [contact] = pipeline.contacts()
    assert contact["name"] == "Fantes AS"
