"""The Moment emulator, driven through MomentClient: auth, paging, filters, 429, PDF, webhooks."""

from __future__ import annotations

import base64
import threading
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
import pytest

from emulators.common import EmulatorServer, Request, Response
from emulators.moment import MomentEmulator, build_dataset, make_line
from emulators.moment.emulator import RateLimiter
from emulators.moment.webhook_driver import MomentWebhookDriver, main
from momentsync.errors import TenantLevelError, TenantProblem, TransientError
from momentsync.moment.client import MomentClient, MomentRecordNotFound
from momentsync.moment.webhooks import parse_webhook

COMPANY = "acme"
KEY = "emulator-test-key"


def auth(key: str = KEY) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"apikey:{key}".encode()).decode()}


@pytest.fixture(scope="module")
def dataset():
    return build_dataset(11, edge_cases=True)


@pytest.fixture
def emulator(dataset):
    with MomentEmulator() as emu:
        emu.add_api_key(COMPANY, KEY)
        emu.load(COMPANY, dataset)
        yield emu


@pytest.fixture
def client(emulator):
    with MomentClient(
        COMPANY, KEY, base_url=emulator.api_base_url, page_size=4, sleep=lambda s: None
    ) as moment:
        yield moment


def test_records_round_trip_exactly(client, dataset):
    for invoice in dataset.invoices:
        assert client.get_invoice(invoice.id) == invoice
    customer = dataset.customers[0]
    assert client.get_customer(customer.id) == customer
    project = next(p for p in dataset.projects if p.start_date is None)
    assert client.get_project(project.id).start_date is None


def test_money_arrives_as_json_numbers_and_reads_as_exact_ore(emulator, client, dataset):
    invoice = dataset.invoices[0]
    raw = httpx.get(
        f"{emulator.api_base_url}/companies/{COMPANY}/invoices/{invoice.id}/include/base+invoiceLines",
        headers=auth(),
    ).json()
    assert isinstance(raw["totalAmountIncludingVat"], float | int)
    assert client.get_invoice(invoice.id).total_incl_vat_ore == invoice.total_incl_vat_ore


def test_invoice_lines_only_with_the_include(emulator, dataset):
    url = f"{emulator.api_base_url}/companies/{COMPANY}/invoices/{dataset.invoices[0].id}"
    assert "invoiceLines" not in httpx.get(url, headers=auth()).json()
    assert httpx.get(url + "/include/base+invoiceLines", headers=auth()).json()["invoiceLines"]


def test_paging_is_zero_based_spring_style(emulator, client, dataset):
    assert [c.id for c in client.list_customers()] == sorted(c.id for c in dataset.customers)
    assert [i.id for i in client.list_invoices()] == sorted(i.id for i in dataset.invoices)
    lists = emulator.request_log.find("GET", "/customers")
    assert [entry.query["page"] for entry in lists] == [["0"], ["1"]]  # 6 customers, size 4
    body = httpx.get(
        f"{emulator.api_base_url}/companies/{COMPANY}/projects", params={"page": 1, "size": 5}, headers=auth()
    ).json()
    assert body["page"] == {
        "number": 1,
        "size": 5,
        "totalElements": len(dataset.projects),
        "totalPages": -(-len(dataset.projects) // 5),
    }
    assert len(body["content"]) == 5


def test_bad_paging_is_400_with_message(emulator):
    response = httpx.get(
        f"{emulator.api_base_url}/companies/{COMPANY}/customers", params={"size": "x"}, headers=auth()
    )
    assert response.status_code == 400 and response.json()["message"] == "Invalid size"


def test_last_modified_filter_sees_only_changes(emulator, client, dataset):
    before = datetime.now(UTC) - timedelta(seconds=1)
    target = dataset.customers[2]
    updated = emulator.update_customer(COMPANY, target.id, email="ny@firma.no")
    assert updated.last_modified > target.last_modified
    assert [c.id for c in client.list_customers(modified_since=before)] == [target.id]
    assert client.get_customer(target.id).email == "ny@firma.no"
    # Fixture timestamps are kept on load: a filter between them splits the customers.
    middle = dataset.customers[3].last_modified
    later = [c.id for c in client.list_customers(modified_since=middle)]
    assert later == sorted([c.id for c in dataset.customers[3:]] + [target.id])


def test_auth_failures(emulator):
    def fetch_with(key: str) -> None:
        with MomentClient(COMPANY, key, base_url=emulator.api_base_url) as moment:
            moment.get_customer(1)

    with pytest.raises(TenantLevelError) as exc:
        fetch_with("wrong-key")
    assert exc.value.problem is TenantProblem.MOMENT_KEY_INVALID
    customers_url = f"{emulator.api_base_url}/companies/{COMPANY}/customers"
    assert httpx.get(customers_url).status_code == 401
    bad_user = {"Authorization": "Basic " + base64.b64encode(f"admin:{KEY}".encode()).decode()}
    assert httpx.get(customers_url, headers=bad_user).status_code == 401

    emulator.add_api_key("other-company", "other-key")
    with pytest.raises(TenantLevelError, match="no access"):
        fetch_with("other-key")

    emulator.revoke_api_key(KEY)
    with pytest.raises(TenantLevelError, match="invalid or expired"):
        fetch_with(KEY)


def test_request_log_redacts_the_key(emulator, client, dataset):
    client.get_customer(dataset.customers[0].id)
    entry = emulator.request_log.entries()[-1]
    assert KEY not in str(entry.to_dict())
    assert entry.headers.get("Authorization", entry.headers.get("authorization")) == "Basic [REDACTED]"


def test_deleted_and_unknown_records_are_404(emulator, client, dataset):
    victim = dataset.projects[0]
    emulator.delete_project(COMPANY, victim.id)
    with pytest.raises(MomentRecordNotFound) as exc:
        client.get_project(victim.id)
    assert exc.value.entity_id == victim.id
    assert victim.id not in [p.id for p in client.list_projects()]
    with pytest.raises(MomentRecordNotFound):
        client.get_invoice(999)


def test_rate_limit_answers_429_above_30_per_second(emulator):
    url = f"{emulator.api_base_url}/companies/{COMPANY}/customers"
    with httpx.Client(headers=auth()) as http:
        started = time.monotonic()
        statuses = [http.get(url, params={"size": 1}).status_code for _ in range(31)]
        elapsed = time.monotonic() - started
    if elapsed < 0.9:  # the window is real time; a very slow machine cannot show the limit
        assert statuses[:30] == [200] * 30 and statuses[30] == 429
    # Another key has its own budget.
    emulator.add_api_key(COMPANY, "second-key")
    assert httpx.get(url, headers=auth("second-key")).status_code == 200


def test_client_rides_out_the_rate_limit(emulator, dataset):
    with MomentClient(
        COMPANY, KEY, base_url=emulator.api_base_url, backoff_base=0.2, backoff_cap=1.0, max_attempts=8
    ) as moment:
        ids = [dataset.customers[0].id] * 40
        assert all(moment.get_customer(i).id == i for i in ids)
    assert emulator.summary()["rate_limited"] >= 1


def test_rate_limiter_sliding_window():
    now = [0.0]
    limiter = RateLimiter(3, clock=lambda: now[0])
    assert [limiter.allow("k") for _ in range(4)] == [True, True, True, False]
    assert limiter.allow("other")
    now[0] = 0.99
    assert not limiter.allow("k")
    now[0] = 1.0
    assert limiter.allow("k") and limiter.rejected == 2


def test_fault_plan_5xx_is_retried_by_the_client(emulator, client, dataset):
    emulator.fault_plan.script("status", status=503, times=2, path=r"/customers/")
    assert client.get_customer(dataset.customers[0].id).id == dataset.customers[0].id
    emulator.fault_plan.script("status", status=502, times=10, path=r"/customers/")
    with pytest.raises(TransientError):
        client.get_customer(dataset.customers[0].id)


def test_invoice_pdf(client, dataset, emulator):
    invoice = dataset.invoices[1]
    pdf = client.get_invoice_pdf(invoice.id)
    assert pdf.startswith(b"%PDF-1.4") and pdf.rstrip().endswith(b"%%EOF")
    assert f"Faktura {invoice.invoice_number}".encode() in pdf
    # The xref offsets point at the objects (a reader would otherwise repair or reject the file).
    xref_at = int(pdf.rsplit(b"startxref\n", 1)[1].split(b"\n")[0])
    assert pdf[xref_at:].startswith(b"xref")
    first_offset = int(pdf[xref_at:].split(b"\n")[3][:10])
    assert pdf[first_offset:].startswith(b"1 0 obj")
    draft = next(i for i in dataset.invoices if not i.finalized)
    with pytest.raises(MomentRecordNotFound):
        client.get_invoice_pdf(draft.id)


def test_admin_create_assigns_moment_numbers(emulator, client):
    customer = emulator.create_customer(COMPANY, name="Ny Kunde AS", city="Bergen")
    assert customer.customer_number == "10007"  # Moment's counter continues after the 6 fixture customers
    project = emulator.create_project(COMPANY, name="Nytt prosjekt", customer=customer.id)
    invoice = emulator.create_invoice(
        COMPANY,
        project=project.id,
        lines=[
            make_line("3000", "7.5", 1250, description="Timer"),
            make_line("3050", 1, "480.00", description="Taxi"),
        ],
    )
    fetched = client.get_invoice(invoice.id)
    assert fetched.customer.id == customer.id and fetched.project.id == project.id
    assert fetched.total_excl_vat == Decimal("9855.00") and fetched.total_vat_ore == 234375 + 5760
    assert fetched.finalized and fetched.payment_id
    credit = emulator.credit_invoice(COMPANY, invoice.id)
    fetched_credit = client.get_invoice(credit.id)
    assert fetched_credit.credited_invoice_id == invoice.id
    assert fetched_credit.total_incl_vat_ore == -fetched.total_incl_vat_ore
    assert fetched_credit.invoice_number == fetched.invoice_number + 1


def test_reset(emulator):
    emulator.reset()
    assert emulator.summary()["companies"] == {}
    assert (
        httpx.get(f"{emulator.api_base_url}/companies/{COMPANY}/customers", headers=auth()).status_code == 401
    )


# --- the webhook driver ------------------------------------------------------------------------------


@pytest.fixture
def receiver():
    received: list[dict] = []
    lock = threading.Lock()

    def handle(request: Request) -> Response:
        with lock:
            received.append({"json": request.json(), "content_type": request.content_type})
        return Response.json(202, {"status": "queued"})

    with EmulatorServer(handle, name="receiver") as server:
        server.received = received  # type: ignore[attr-defined]
        yield server


def test_driver_mutates_then_posts_thin_webhooks(emulator, client, receiver):
    url = receiver.base_url + "/webhooks/moment/acme/secret-part"
    with MomentWebhookDriver(emulator, COMPANY, url) as driver:
        customer = driver.create_customer(name="Fløyen Foto AS", organization_number="912345679")
        driver.update_customer(customer.id, phone="+47 55 12 34 56")
        project = driver.create_project(name="Fotoprosjekt", customer=customer.id, start_date="2025-02-01")
        invoice = driver.finalize_invoice(
            project=project.id, lines=[make_line("3000", 2, 1500, description="Fotografering")]
        )
        credit = driver.credit_invoice(invoice.id)
        driver.delete_customer(customer.id)
        driver.send_ignored("offer", 42)
    assert [s.status for s in driver.sent] == [202] * 7
    bodies = [r["json"] for r in receiver.received]
    assert all(r["content_type"] == "application/json" for r in receiver.received)
    assert bodies[0] == {
        "event": "CREATE_NEW",
        "customer": {"id": customer.id, "customerNumber": customer.customer_number},
    }
    assert bodies[1]["event"] == "UPDATE"
    assert bodies[2]["project"] == {
        "id": project.id,
        "projectNumber": project.project_number,
        "customer": {"id": customer.id, "customerNumber": customer.customer_number},
    }
    assert bodies[3] == {
        "event": "CREATE_NEW",
        "invoice": {
            "id": invoice.id,
            "invoiceNumber": invoice.invoice_number,
            "customer": {"id": customer.id, "customerNumber": customer.customer_number},
            "project": {"id": project.id, "projectNumber": project.project_number},
        },
    }
    parsed = [parse_webhook(body) for body in bodies]
    assert [(p.kind, p.entity_id) for p in parsed] == [
        ("customer", customer.id),
        ("customer", customer.id),
        ("project", project.id),
        ("invoice", invoice.id),
        ("invoice", credit.id),
        ("customer", customer.id),
        ("offer", 42),
    ]
    assert parsed[5].event == "DELETE" and parsed[6].ignored
    # What a receiver does next: re-fetch by id.
    assert client.get_invoice(parsed[4].entity_id).credited_invoice_id == invoice.id
    with pytest.raises(MomentRecordNotFound):
        client.get_customer(parsed[5].entity_id)


def test_driver_records_failed_deliveries(emulator):
    with MomentWebhookDriver(emulator, COMPANY, "http://127.0.0.1:9/unreachable", timeout=1.0) as driver:
        driver.create_customer(name="X AS")
    assert driver.sent[0].status is None and driver.sent[0].error


def test_command_line(receiver, capsys):
    url = receiver.base_url + "/hook/secret-part"
    assert main(["--url", url, "customer-create", "--id", "62788973", "--number", "10001"]) == 0
    assert (
        main(
            [
                "--url",
                url,
                "invoice-finalize",
                "--id",
                "106939080",
                "--number",
                "1",
                "--customer-id",
                "62788973",
                "--customer-number",
                "10001",
                "--project-id",
                "62788980",
                "--project-number",
                "1",
            ]
        )
        == 0
    )
    assert main(["--url", url, "project-update"]) == 0
    assert main(["--url", url, "claim", "--id", "9"]) == 0
    bodies = [r["json"] for r in receiver.received]
    assert bodies[0] == {"event": "CREATE_NEW", "customer": {"id": 62788973, "customerNumber": "10001"}}
    assert bodies[1] == {
        "event": "CREATE_NEW",
        "invoice": {
            "id": 106939080,
            "invoiceNumber": 1,
            "customer": {"id": 62788973, "customerNumber": "10001"},
            "project": {"id": 62788980, "projectNumber": "1"},
        },
    }
    assert parse_webhook(bodies[2]).kind == "project" and bodies[2]["event"] == "UPDATE"
    assert parse_webhook(bodies[3]).ignored
    out = capsys.readouterr().out
    assert "secret-part" not in out and "202" in out


def test_command_line_demo(receiver, capsys):
    assert main(["--url", receiver.base_url + "/hook/s", "demo", "--seed", "2"]) == 0
    data = build_dataset(2)
    assert len(receiver.received) == len(data.customers) + len(data.projects) + len(data.invoices)
    assert "Moment emulator: http://127.0.0.1:" in capsys.readouterr().out


def test_fixtures_are_deterministic_and_realistic():
    first, again, other = build_dataset(5), build_dataset(5), build_dataset(6)
    assert first == again and first != other
    assert [c.customer_number for c in first.customers][:3] == ["10001", "10002", "10003"]
    assert {c.city for c in first.customers} == {"Oslo", "Bergen"}
    for customer in first.customers:
        digits = [int(d) for d in customer.organization_number]
        remainder = sum(d * w for d, w in zip(digits[:8], (3, 2, 7, 6, 5, 4, 3, 2), strict=True)) % 11
        assert digits[8] == (0 if remainder == 0 else 11 - remainder)
    assert any(p.start_date is None for p in first.projects) and any(p.start_date for p in first.projects)
    assert all(len({line.vat_code for line in i.lines}) >= 2 for i in first.invoices)
    for invoice in first.invoices:
        assert invoice.total_incl_vat_ore == invoice.lines_excl_vat_ore + invoice.lines_vat_ore
    edge = build_dataset(5, edge_cases=True)
    assert any(i.is_credit_note for i in edge.invoices) and any(not i.transferable for i in edge.invoices)
    assert any(i.currency_code == "EUR" for i in edge.invoices)
    assert any(line.vat_code is None for i in edge.invoices for line in i.lines)
