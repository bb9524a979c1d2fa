"""Projects through the whole local pipeline into the Fiken emulator."""

from __future__ import annotations

from datetime import date

from momentsync.sync.transfer_log import Outcome
from momentsync.tenants import TenantStatus


def test_project_without_start_date_waits_then_syncs_with_its_customer_first(pipeline):
    customer = pipeline.moment.create_customer(pipeline.company, name="Kunde Først AS")
    pipeline.mark()
    project = pipeline.driver.create_project(name="Nytt kontor", customer=customer.id, start_date=None)
    pipeline.settle()
    assert pipeline.fiken_requests() == []
    waiting = pipeline.last("project", project.id)
    assert waiting.outcome is Outcome.WAITING and "start date" in waiting.reason

    pipeline.driver.update_project(project.id, start_date=date(2026, 1, 5))
    pipeline.settle()
    [fiken_project] = pipeline.projects()
    [contact] = pipeline.contacts()
    assert fiken_project["number"] == project.project_number
    assert fiken_project["startDate"] == "2026-01-05"
    assert fiken_project["contact"]["contactId"] == contact["contactId"]
    assert pipeline.last("project", project.id).outcome is Outcome.SYNCED
    assert pipeline.link("customer", customer.id).remote_id == str(contact["contactId"])


def test_new_project_for_a_linked_customer_costs_two_calls_and_a_change_one(pipeline):
    customer = pipeline.driver.create_customer(name="Lenket AS")
    pipeline.settle()
    pipeline.mark()
    project = pipeline.driver.create_project(
        name="Rammeavtale", customer=customer.id, start_date=date(2026, 2, 1)
    )
    pipeline.settle()
    assert [e.method for e in pipeline.fiken_requests()] == ["GET", "POST"]  # lookup by number, create

    pipeline.mark()
    pipeline.driver.update_project(project.id, project_state="completed", end_date=date(2026, 6, 30))
    pipeline.settle()
    assert [e.method for e in pipeline.fiken_requests()] == ["PATCH"]
    [fiken_project] = pipeline.projects()
    assert fiken_project["completed"] is True and fiken_project["endDate"] == "2026-06-30"


def test_changed_project_number_is_a_permanent_error_with_the_reason(pipeline):
    project = pipeline.driver.create_project(name="Fast nummer", start_date=date(2026, 3, 1))
    pipeline.settle()
    pipeline.driver.update_project(project.id, project_number="P-NEW-9")
    pipeline.settle()
    entry = pipeline.last("project", project.id)
    assert entry.outcome is Outcome.FAILED
    assert "project number changed" in entry.reason and "P-NEW-9" in entry.reason
    [dead] = pipeline.dead_letters()
    assert "project number changed" in dead["MessageAttributes"]["reason"]["StringValue"]


def test_duplicate_project_name_is_reported_with_the_name(pipeline):
    pipeline.driver.create_project(name="Samme navn", start_date=date(2026, 3, 1))
    second = pipeline.driver.create_project(name="Samme navn", start_date=date(2026, 3, 2))
    pipeline.settle()
    entry = pipeline.last("project", second.id)
    assert entry.outcome is Outcome.FAILED and "Samme navn" in entry.reason


def test_missing_project_module_pauses_the_tenant_and_parks_instead_of_retrying(make_pipeline):
    pipeline = make_pipeline(has_project_module=False)
    customer = pipeline.driver.create_customer(name="Uten Modul AS")
    pipeline.settle()
    project = pipeline.driver.create_project(
        name="Kan ikke", customer=customer.id, start_date=date(2026, 4, 1)
    )
    pipeline.settle()
    later = pipeline.driver.update_customer(customer.id, name="Uten Modul AS (ny)")
    pipeline.settle()

    tenant = pipeline.tenant()
    assert tenant.status is TenantStatus.PAUSED
    assert "module_missing" in tenant.problems
    assert pipeline.last("project", project.id).outcome is Outcome.PARKED
    assert pipeline.last("customer", later.id).outcome is Outcome.PARKED  # held in order behind it
    assert [e.entity_type for e, _ in pipeline.parked()] == ["project", "customer"]
    assert pipeline.dead_letters() == []
    requests_402 = [e for e in pipeline.fiken_requests() if e.status == 402]
    assert len(requests_402) == 1  # not endless retries
