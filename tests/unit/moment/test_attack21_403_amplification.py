"""Attack on #21's 403 handling: every 403 cost two more GETs (reading the other entities to tell a
per-entity denial from no access at all). A backlog of 50 invoice events for a key that may not read
invoices made 150 requests against Moment's 30 per second; the verdict is now remembered for a minute
per entity, and learnt again after that (access may have been granted or withdrawn)."""

from __future__ import annotations

import pytest
import respx

from momentsync.errors import TenantLevelError
from momentsync.moment.client import (
    ACCESS_VERDICT_MAX_AGE_SECONDS,
    INVOICE_INCLUDE,
    MomentAccessDenied,
    MomentClient,
)

BASE = "https://moment.test/api/1.0"
ROOT = f"{BASE}/companies/acme"
PAGE = {
    "content": [{"id": 1, "name": "C1"}],
    "page": {"number": 0, "size": 1, "totalElements": 1, "totalPages": 1},
}


def test_a_burst_of_403s_on_one_entity_probes_the_others_once_per_minute():
    now = [0.0]
    with (
        respx.mock(base_url=ROOT, assert_all_called=False) as mock,
        MomentClient("acme", "sk-key", base_url=BASE, sleep=lambda s: None, clock=lambda: now[0]) as client,
    ):
        mock.route(path__regex=r".*/invoices/\d+/include/.*").respond(403, json={"message": "Forbidden"})
        customers = mock.get("/customers").respond(json=PAGE)
        projects = mock.get("/projects").respond(json=PAGE)
        for invoice_id in range(1, 51):
            with pytest.raises(MomentAccessDenied, match="may not read invoices"):
                client.get_invoice(invoice_id)
        assert len(mock.calls) == 50 + 1  # one probe (customers are readable), then one GET per event
        assert customers.call_count == 1 and projects.call_count == 0
        now[0] += ACCESS_VERDICT_MAX_AGE_SECONDS + 1
        customers.respond(403)
        projects.respond(403)
        with pytest.raises(TenantLevelError):  # access withdrawn everywhere meanwhile: learnt again
            client.get_invoice(51)
        assert customers.call_count == 2 and projects.call_count == 1


def test_the_verdict_is_per_entity():
    with (
        respx.mock(base_url=ROOT, assert_all_called=False) as mock,
        MomentClient("acme", "sk-key", base_url=BASE, sleep=lambda s: None) as client,
    ):
        mock.get(f"/invoices/1/include/{INVOICE_INCLUDE}").respond(403)
        mock.get("/projects/1").respond(403)
        mock.get("/customers").respond(json=PAGE)
        mock.get("/projects").respond(403)
        mock.get("/invoices").respond(403)
        with pytest.raises(MomentAccessDenied, match="invoices"):
            client.get_invoice(1)
        with pytest.raises(MomentAccessDenied, match="projects"):
            client.get_project(1)
