"""Behaviours of the Fiken emulator, exercised over HTTP with httpx (one behaviour per test)."""

from __future__ import annotations

import base64
import subprocess
import sys
import threading
import time
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from emulators.common import FaultPlan
from emulators.fiken import BankAccountSeed, FikenEmulator
from emulators.fiken.contract import EXEMPTIONS, load_contract

SLUG = "acme-as"
CLIENT_ID, CLIENT_SECRET, REDIRECT = "moment-app", "s3cret", "https://connect.example.no/fiken/callback"


def new_id(response: httpx.Response) -> int:
    return int(response.headers["Location"].rstrip("/").rsplit("/", 1)[1])


def make_customer(api: httpx.Client, **fields) -> int:
    response = api.post("/contacts", json={"name": "Kunde AS", "customer": True, **fields})
    assert response.status_code == 201, response.text
    return new_id(response)


def line(**overrides) -> dict:
    return {
        "quantity": 1,
        "unitPrice": 10000,
        "vatType": "HIGH",
        "incomeAccount": "3000",
        "description": "Consulting",
        **overrides,
    }


def invoice_body(customer_id: int, **overrides) -> dict:
    return {
        "issueDate": "2025-03-01",
        "dueDate": "2025-03-15",
        "bankAccountCode": "1920:10001",
        "cash": False,
        "customerId": customer_id,
        "lines": [line()],
        **overrides,
    }


def make_invoice(api: httpx.Client, customer_id: int, **overrides) -> int:
    response = api.post("/invoices", json=invoice_body(customer_id, **overrides))
    assert response.status_code == 201, response.text
    return new_id(response)


def basic(client_id: str = CLIENT_ID, secret: str = CLIENT_SECRET) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()}


def authorize(fiken: FikenEmulator, state: str = "st-1", redirect_uri: str = REDIRECT) -> httpx.Response:
    return httpx.get(
        f"{fiken.base_url}/oauth/authorize",
        params={
            "response_type": "code",
            "client_id": CLIENT_ID,
            "redirect_uri": redirect_uri,
            "state": state,
        },
    )


def redirect_params(response: httpx.Response) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(response.headers["Location"]).query).items()}


def token_call(fiken: FikenEmulator, form: dict, headers: dict | None = None) -> httpx.Response:
    return httpx.post(
        f"{fiken.base_url}/oauth/token", data=form, headers=headers if headers is not None else basic()
    )


def code_grant(fiken: FikenEmulator) -> dict:
    fiken.register_client(CLIENT_ID, CLIENT_SECRET, [REDIRECT])
    code = redirect_params(authorize(fiken))["code"]
    response = token_call(
        fiken, {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT, "state": "st-1"}
    )
    assert response.status_code == 200, response.text
    return response.json()


# -- conventions ----


def test_create_answers_201_with_full_location_and_empty_body(fiken, api):
    response = api.post("/contacts", json={"name": "Kunde AS", "customer": True})
    assert response.status_code == 201
    assert response.content == b""
    assert (
        response.headers["Location"] == f"{fiken.api_base_url}/companies/{SLUG}/contacts/{new_id(response)}"
    )


def test_non_json_body_is_415(api):
    response = api.post(
        "/contacts", content=b"name=x", headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert response.status_code == 415


def test_unknown_id_is_404_with_message(api):
    response = api.get("/contacts/999999")
    assert response.status_code == 404
    assert "999999" in response.json()["message"]


def test_paging_is_zero_based_with_fiken_headers(api):
    for index in range(7):
        api.post("/contacts", json={"name": f"Kunde {index}"})
    first = api.get("/contacts", params={"page": 0, "pageSize": 5})
    second = api.get("/contacts", params={"page": 1, "pageSize": 5})
    assert [c["name"] for c in first.json()] == [f"Kunde {i}" for i in range(5)]
    assert [c["name"] for c in second.json()] == ["Kunde 5", "Kunde 6"]
    assert (first.headers["Fiken-Api-Page"], first.headers["Fiken-Api-Page-Size"]) == ("0", "5")
    assert (first.headers["Fiken-Api-Page-Count"], first.headers["Fiken-Api-Result-Count"]) == ("2", "7")


def test_paging_needs_both_parameters_else_defaults_apply(api):
    for index in range(30):
        api.post("/contacts", json={"name": f"Kunde {index}"})
    only_page = api.get("/contacts", params={"page": 1})
    assert only_page.headers["Fiken-Api-Page"] == "0"
    assert len(only_page.json()) == 25
    assert only_page.headers["Fiken-Api-Page-Count"] == "2"


def test_page_size_above_100_violates_the_contract(fiken, api):
    response = api.get("/contacts", params={"page": 0, "pageSize": 101})
    assert response.status_code == 400
    assert "pageSize" in response.json()["message"]


# -- auth and company access ----


def test_missing_token_is_401(fiken):
    response = httpx.get(f"{fiken.api_base_url}/companies/{SLUG}/contacts")
    assert response.status_code == 401


def test_expired_access_token_is_401(fiken, api):
    fiken.expire_access_tokens()
    response = api.get("/contacts")
    assert response.status_code == 401
    assert "expired" in response.json()["message"]


def test_company_not_granted_to_the_token_is_403(fiken):
    fiken.add_company("other-as")
    token = fiken.issue_tokens([SLUG])["access_token"]
    response = httpx.get(
        f"{fiken.api_base_url}/companies/other-as", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 403


def test_company_without_api_access_is_403(fiken, api):
    fiken.configure_company(SLUG, has_api_access=False)
    assert api.get("/contacts").status_code == 403


def test_companies_lists_only_granted_companies(fiken, tokens):
    fiken.add_company("other-as")
    response = httpx.get(
        f"{fiken.api_base_url}/companies", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )
    assert [c["slug"] for c in response.json()] == [SLUG]
    assert response.json()[0]["vatType"] == "monthly"
    assert response.json()[0]["hasApiAccess"] is True


# -- contacts ----


def test_customer_number_is_assigned_from_10001_and_ignored_if_sent(fiken, api):
    first = make_customer(api, customerNumber=5)
    second = make_customer(api)
    assert api.get(f"/contacts/{first}").json()["customerNumber"] == 10001
    assert api.get(f"/contacts/{second}").json()["customerNumber"] == 10002
    assert any(v.message.startswith("customerNumber") for v in fiken.contract_exempted)


def test_member_number_string_is_stored_write_only_and_filterable(fiken, api):
    contact_id = make_customer(api, memberNumberString="moment-42")
    make_customer(api, memberNumberString="moment-43")
    assert "memberNumberString" not in api.get(f"/contacts/{contact_id}").json()
    found = api.get("/contacts", params={"memberNumberString": "moment-42"}).json()
    assert [c["contactId"] for c in found] == [contact_id]
    assert fiken.contacts(SLUG)[0]["memberNumberString"] == "moment-42"


def test_contact_filters(api):
    wanted = make_customer(api, organizationNumber="912345678", email="post@kunde.no")
    api.post("/contacts", json={"name": "Leverandør AS", "supplier": True, "organizationNumber": "998877665"})
    assert [
        c["contactId"] for c in api.get("/contacts", params={"organizationNumber": "912345678"}).json()
    ] == [wanted]
    assert [c["contactId"] for c in api.get("/contacts", params={"email": "post@kunde.no"}).json()] == [
        wanted
    ]
    assert [c["contactId"] for c in api.get("/contacts", params={"name": "Kunde AS"}).json()] == [wanted]
    assert [c["contactId"] for c in api.get("/contacts", params={"customer": "true"}).json()] == [wanted]
    assert [c["contactId"] for c in api.get("/contacts", params={"customerNumber": 10001}).json()] == [wanted]
    assert api.get("/contacts", params={"inactive": "true"}).json() == []


def test_put_replaces_the_whole_contact(api):
    contact_id = make_customer(
        api,
        email="a@b.no",
        groups=["vip"],
        memberNumberString="m-1",
        contactPerson=[{"name": "Kari", "email": "kari@kunde.no"}],
    )
    response = api.put(f"/contacts/{contact_id}", json={"name": "Kunde AS (ny)"})
    assert response.status_code == 200
    assert response.headers["Location"].endswith(f"/contacts/{contact_id}")
    contact = api.get(f"/contacts/{contact_id}").json()
    assert contact["name"] == "Kunde AS (ny)"
    assert contact["customer"] is False
    assert "email" not in contact
    assert contact["groups"] == [] and contact["contactPerson"] == []
    assert contact["customerNumber"] == 10001  # assigned numbers stay
    assert api.get("/contacts", params={"memberNumberString": "m-1"}).json() == []


def test_contact_persons_and_groups_are_kept_as_given(api):
    contact_id = make_customer(
        api,
        groups=["vip", "oslo"],
        contactPerson=[{"name": "Kari", "email": "kari@kunde.no", "phoneNumber": "99"}],
    )
    contact = api.get(f"/contacts/{contact_id}").json()
    assert contact["groups"] == ["vip", "oslo"]
    assert contact["contactPerson"][0]["name"] == "Kari"
    assert isinstance(contact["contactPerson"][0]["contactPersonId"], int)


def test_delete_unused_contact_is_204(api):
    contact_id = make_customer(api)
    assert api.delete(f"/contacts/{contact_id}").status_code == 204
    assert api.get(f"/contacts/{contact_id}").status_code == 404


def test_delete_contact_with_invoice_sets_it_inactive_with_200(api):
    contact_id = make_customer(api)
    make_invoice(api, contact_id)
    response = api.delete(f"/contacts/{contact_id}")
    assert response.status_code == 200
    assert response.json()["inactive"] is True


# -- projects ----


def test_projects_answer_402_without_the_project_module(fiken, api):
    fiken.configure_company(SLUG, has_project_module=False)
    assert api.get("/projects").status_code == 402
    assert (
        api.post("/projects", json={"number": "1", "name": "P", "startDate": "2025-01-01"}).status_code == 402
    )


def test_project_duplicate_name_is_400_naming_it(api):
    assert (
        api.post(
            "/projects", json={"number": "100", "name": "Kontorbygg", "startDate": "2025-01-01"}
        ).status_code
        == 201
    )
    response = api.post("/projects", json={"number": "101", "name": "Kontorbygg", "startDate": "2025-01-01"})
    assert response.status_code == 400
    assert "Kontorbygg" in response.json()["message"]


def test_project_duplicate_number_is_400(api):
    api.post("/projects", json={"number": "100", "name": "A", "startDate": "2025-01-01"})
    response = api.post("/projects", json={"number": "100", "name": "B", "startDate": "2025-01-01"})
    assert response.status_code == 400
    assert "100" in response.json()["message"]


def test_project_patch_updates_fields_and_refuses_number(fiken, api):
    project_id = new_id(api.post("/projects", json={"number": "7", "name": "A", "startDate": "2025-01-01"}))
    patched = api.patch(f"/projects/{project_id}", json={"name": "B", "completed": True})
    assert patched.status_code == 201  # as the spec documents for this PATCH
    project = api.get(f"/projects/{project_id}").json()
    assert (project["name"], project["completed"], project["number"]) == ("B", True, "7")
    assert api.patch(f"/projects/{project_id}", json={"number": "8"}).status_code == 400
    fiken.contract_violations.clear()  # the refused number was a deliberate violation


def test_project_filters_and_delete(api):
    first = new_id(api.post("/projects", json={"number": "1", "name": "A", "startDate": "2025-01-01"}))
    api.post("/projects", json={"number": "2", "name": "B", "startDate": "2025-01-01", "completed": True})
    assert [p["projectId"] for p in api.get("/projects", params={"number": "1"}).json()] == [first]
    assert [p["projectId"] for p in api.get("/projects", params={"name": "A"}).json()] == [first]
    assert [p["projectId"] for p in api.get("/projects", params={"completed": "false"}).json()] == [first]
    assert api.delete(f"/projects/{first}").status_code == 204
    assert api.get(f"/projects/{first}").status_code == 404


# -- invoices ----


def test_invoice_counter_uninitialised_blocks_invoices_until_posted(fiken, api):
    fiken.set_invoice_counter(SLUG, None)
    customer = make_customer(api)
    refused = api.post("/invoices", json=invoice_body(customer))
    assert refused.status_code == 400
    assert "number series" in refused.json()["message"]
    assert api.get("/invoices/counter").status_code == 409
    assert api.post("/invoices/counter").status_code == 201
    invoice_id = make_invoice(api, customer)
    assert api.get(f"/invoices/{invoice_id}").json()["invoiceNumber"] == 10001
    assert api.get("/invoices/counter").json() == {"value": 10001}


def test_invoice_counter_can_start_at_a_given_value(fiken, api):
    fiken.set_invoice_counter(SLUG, None)
    assert api.post("/invoices/counter", json={"value": 500}).status_code == 201
    invoice_id = make_invoice(api, make_customer(api))
    assert api.get(f"/invoices/{invoice_id}").json()["invoiceNumber"] == 501


def test_invoice_from_unverified_bank_account_is_403(fiken, api):
    fiken.add_bank_account(SLUG, "Ny konto", "98024281914", verified=False)
    response = api.post("/invoices", json=invoice_body(make_customer(api), bankAccountCode="1920:10002"))
    assert response.status_code == 403
    assert "98024281914 has not been verified" in response.json()["message"]


def test_invoice_with_unknown_bank_account_is_400(api):
    response = api.post("/invoices", json=invoice_body(make_customer(api), bankAccountCode="1920:19999"))
    assert response.status_code == 400


def test_vat_on_company_not_vat_registered_is_400(fiken, api):
    fiken.configure_company(SLUG, vat_registered=False)
    customer = make_customer(api)
    response = api.post("/invoices", json=invoice_body(customer))
    assert response.status_code == 400
    assert response.json()["message"] == (
        "VAT charged when the company is not VAT registered. The only VAT type accepted is OUTSIDE."
    )
    assert (
        api.post(
            "/invoices", json=invoice_body(customer, lines=[line(vatType="OUTSIDE", incomeAccount="3200")])
        ).status_code
        == 201
    )


def test_free_text_line_without_income_account_is_400(api):
    bare = line()
    del bare["incomeAccount"]
    response = api.post("/invoices", json=invoice_body(make_customer(api), lines=[bare]))
    assert response.status_code == 400
    assert "incomeAccount is required" in response.json()["message"]


def test_invoice_totals_in_ore_for_mixed_vat_discount_and_decimal_quantity(api):
    lines = [
        line(quantity=1.5, unitPrice=10000, discount=10),  # 13500 net, 3375 vat
        line(quantity=3, unitPrice=3333, vatType="MEDIUM", incomeAccount="3030"),  # 9999, 1499.85 -> 1500
        line(
            quantity=2.5, unitPrice=1999, vatType="LOW", incomeAccount="3050"
        ),  # 4997.5 -> 4998, 599.76 -> 600
        line(quantity=1, unitPrice=5000, vatType="OUTSIDE", incomeAccount="3200"),  # 5000, 0
    ]
    invoice = api.get(f"/invoices/{make_invoice(api, make_customer(api), lines=lines)}").json()
    assert [(x["net"], x["vat"], x["gross"]) for x in invoice["lines"]] == [
        (13500, 3375, 16875),
        (9999, 1500, 11499),
        (4998, 600, 5598),
        (5000, 0, 5000),
    ]
    assert (invoice["net"], invoice["vat"], invoice["gross"]) == (33497, 5475, 38972)
    assert all(isinstance(invoice[k], int) for k in ("net", "vat", "gross"))


def test_rounding_type_rounds_the_gross_total(api):
    customer = make_customer(api)
    invoice_id = make_invoice(api, customer, lines=[line(unitPrice=9999)], roundingType="round_whole")
    invoice = api.get(f"/invoices/{invoice_id}").json()
    assert invoice["gross"] == 12500  # 9999 + 2500 (2499.75) = 12499 -> 125.00 kr
    assert invoice["gross"] == invoice["net"] + invoice["vat"]


def test_invoice_result_carries_references_and_pdf(api):
    customer = make_customer(api)
    invoice_id = make_invoice(api, customer, orderReference="M-2025-17", ourReference="Ola")
    invoice = api.get(f"/invoices/{invoice_id}").json()
    assert invoice["orderReference"] == "M-2025-17"
    assert invoice["customer"]["contactId"] == customer
    assert invoice["bankAccountNumber"] == "12345678903"
    assert api.get(invoice["invoicePdf"]["downloadUrl"]).content.startswith(b"%PDF")


def test_invoice_filters(api):
    customer, other = make_customer(api), make_customer(api, name="Annen AS")
    first = make_invoice(api, customer, orderReference="A-1", issueDate="2025-01-10")
    second = make_invoice(api, other, orderReference="B-2", issueDate="2025-02-10")
    assert [i["invoiceId"] for i in api.get("/invoices", params={"orderReference": "A-1"}).json()] == [first]
    assert [i["invoiceId"] for i in api.get("/invoices", params={"invoiceNumber": "10002"}).json()] == [
        second
    ]
    assert [i["invoiceId"] for i in api.get("/invoices", params={"customerId": other}).json()] == [second]
    assert [i["invoiceId"] for i in api.get("/invoices", params={"issueDateGe": "2025-02-01"}).json()] == [
        second
    ]


def test_invoice_draft_uuid_filter_matches_direct_invoices_only_when_enabled(fiken, api):
    uuid = "123e4567-e89b-12d3-a456-426655440000"
    make_invoice(api, make_customer(api), uuid=uuid)
    assert api.get("/invoices", params={"invoiceDraftUuid": uuid}).json() == []
    fiken.direct_invoice_uuid_filterable = True
    try:
        make_invoice(api, make_customer(api), uuid=uuid)
        assert len(api.get("/invoices", params={"invoiceDraftUuid": uuid}).json()) == 1
    finally:
        fiken.direct_invoice_uuid_filterable = False


def test_invoice_patch_changes_due_date_and_sent_manually(api):
    invoice_id = make_invoice(api, make_customer(api))
    response = api.patch(f"/invoices/{invoice_id}", json={"newDueDate": "2025-04-01", "sentManually": True})
    assert response.status_code == 200
    invoice = api.get(f"/invoices/{invoice_id}").json()
    assert (invoice["dueDate"], invoice["originalDueDate"], invoice["sentManually"]) == (
        "2025-04-01",
        "2025-03-15",
        True,
    )


def test_invoice_patch_of_anything_else_is_400(fiken, api):
    invoice_id = make_invoice(api, make_customer(api))
    response = api.patch(f"/invoices/{invoice_id}", json={"lines": [line()]})
    assert response.status_code == 400
    assert api.get(f"/invoices/{invoice_id}").json()["gross"] == 12500
    fiken.contract_violations.clear()


def test_invoice_attachment_is_201_with_location(fiken, api):
    invoice_id = make_invoice(api, make_customer(api))
    response = api.post(
        f"/invoices/{invoice_id}/attachments",
        files={
            "filename": (None, "timeliste.pdf"),
            "file": ("timeliste.pdf", b"%PDF-1.4", "application/pdf"),
        },
    )
    assert response.status_code == 201
    assert f"/invoices/{invoice_id}/attachments/" in response.headers["Location"]
    assert [a["identifier"] for a in api.get(f"/invoices/{invoice_id}/attachments").json()] == [
        "timeliste.pdf"
    ]
    assert fiken.attachments(SLUG)[0]["content"] == b"%PDF-1.4"


def test_attachment_filename_must_end_in_an_allowed_suffix(api):
    invoice_id = make_invoice(api, make_customer(api))
    response = api.post(
        f"/invoices/{invoice_id}/attachments",
        files={"filename": (None, "bilde.heic"), "file": ("bilde.heic", b"x", "image/heic")},
    )
    assert response.status_code == 400
    assert ".pdf" in response.json()["message"]


def test_attachment_route_wants_multipart(api):
    invoice_id = make_invoice(api, make_customer(api))
    assert api.post(f"/invoices/{invoice_id}/attachments", json={"filename": "a.pdf"}).status_code == 415


# -- credit notes ----


def test_full_credit_note_is_numbered_and_linked(api):
    invoice_id = make_invoice(api, make_customer(api))
    response = api.post(
        "/creditNotes/full",
        json={"issueDate": "2025-03-05", "invoiceId": invoice_id, "creditNoteText": "Feil pris"},
    )
    assert response.status_code == 201
    note = api.get(f"/creditNotes/{new_id(response)}").json()
    assert (note["creditNoteNumber"], note["associatedInvoiceId"], note["gross"]) == (
        10001,
        invoice_id,
        12500,
    )
    assert api.get(f"/invoices/{invoice_id}").json()["associatedCreditNotes"] == [note["creditNoteId"]]


def test_full_credit_of_a_fully_credited_invoice_is_400(api):
    invoice_id = make_invoice(api, make_customer(api))
    body = {"issueDate": "2025-03-05", "invoiceId": invoice_id, "creditNoteText": "Feil"}
    assert api.post("/creditNotes/full", json=body).status_code == 201
    again = api.post("/creditNotes/full", json=body)
    assert again.status_code == 400
    assert "already fully credited" in again.json()["message"]


def test_partial_credit_note_totals_and_list_filter(api):
    customer = make_customer(api)
    invoice_id = make_invoice(api, customer, lines=[line(quantity=4)])
    response = api.post(
        "/creditNotes/partial",
        json={
            "issueDate": "2025-03-05",
            "invoiceId": invoice_id,
            "lines": [{"quantity": 1, "unitPrice": 10000, "vatType": "HIGH", "incomeAccount": "3000"}],
        },
    )
    assert response.status_code == 201
    notes = api.get("/creditNotes", params={"customerId": customer}).json()
    assert [(n["net"], n["vat"], n["gross"]) for n in notes] == [(10000, 2500, 12500)]


# -- sales ----


def test_external_invoice_sale_with_attachment(fiken, api):
    customer = make_customer(api)
    response = api.post(
        "/sales",
        json={
            "date": "2025-03-01",
            "kind": "external_invoice",
            "paid": False,
            "currency": "NOK",
            "customerId": customer,
            "saleNumber": "M-1001",
            "kid": "0000100015",
            "dueDate": "2025-03-15",
            "lines": [
                {
                    "description": "Arbeid",
                    "vatType": "HIGH",
                    "netPrice": 80000,
                    "vat": 20000,
                    "account": "3000",
                }
            ],
        },
    )
    assert response.status_code == 201, response.text
    sale_id = new_id(response)
    found = api.get("/sales", params={"saleNumber": "M-1001"}).json()
    assert [(s["saleId"], s["netAmount"], s["vatAmount"], s["kid"]) for s in found] == [
        (sale_id, 80000, 20000, "0000100015")
    ]
    attached = api.post(
        f"/sales/{sale_id}/attachments",
        params={"attachToSale": "true"},
        files={"filename": (None, "faktura-M-1001.pdf"), "file": ("f.pdf", b"%PDF", "application/pdf")},
    )
    assert attached.status_code == 201
    assert len(api.get(f"/sales/{sale_id}").json()["saleAttachments"]) == 1


# -- bank accounts and accounts ----


def test_bank_account_created_via_api_is_unverified_until_admin_verifies(fiken, api):
    response = api.post(
        "/bankAccounts", json={"name": "Prosjektkonto", "bankAccountNumber": "15035646830", "type": "normal"}
    )
    assert response.status_code == 201
    account = api.get(f"/bankAccounts/{new_id(response)}").json()
    assert account["accountCode"] == "1920:10002"
    customer = make_customer(api)
    assert api.post("/invoices", json=invoice_body(customer, bankAccountCode="1920:10002")).status_code == 403
    fiken.verify_bank_account(SLUG, "1920:10002")
    assert api.post("/invoices", json=invoice_body(customer, bankAccountCode="1920:10002")).status_code == 201
    listed = api.get("/bankAccounts", params={"page": 0, "pageSize": 10})
    assert listed.headers["Fiken-Api-Result-Count"] == "2"


def test_accounts_are_paged_and_found_by_code(api):
    codes = [a["code"] for a in api.get("/accounts", params={"page": 0, "pageSize": 100}).json()]
    assert {"1500", "1920", "3000", "3020", "3030", "3050", "3100", "3200", "7740"} <= set(codes)
    assert api.get("/accounts/3000").json()["code"] == "3000"
    assert [
        a["code"] for a in api.get("/accounts", params={"fromAccount": "3000", "toAccount": "3030"}).json()
    ] == ["3000", "3020", "3030"]


# -- rate rule ----


class ManualClock:
    """The rate rule's clock, moved only by the test: what the machine's load does to timing is out."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def manual_clock(fiken, monkeypatch) -> ManualClock:
    clock = ManualClock()
    monkeypatch.setattr(fiken.rate_rule, "clock", clock)
    return clock


def test_second_concurrent_request_with_the_same_token_is_429(fiken, api, monkeypatch):
    fiken.rate_rule.enabled = True
    # The first request is held inside the emulator (after its start was accepted) until the second
    # has been answered: "in flight" by construction, not by a sleep that a loaded machine outruns.
    inside, release = threading.Event(), threading.Event()
    answer = fiken._api

    def held_answer(request):
        inside.set()
        assert release.wait(10), "the second request never came back"
        return answer(request)

    monkeypatch.setattr(fiken, "_api", held_answer)
    results: list[int] = []
    worker = threading.Thread(target=lambda: results.append(api.get("/contacts").status_code))
    worker.start()
    try:
        assert inside.wait(10)
        with httpx.Client(base_url=str(api.base_url), headers=dict(api.headers)) as second:
            refused = second.get("/contacts")
    finally:
        release.set()
        worker.join(10)
    assert refused.status_code == 429
    assert "Only one concurrent API request" in refused.json()["message"]
    assert results == [200]
    assert fiken.rate_limited == 1
    assert fiken.rate_rule.rejected_by_reason == {"concurrent": 1, "rate": 0}


def test_more_than_four_starts_per_second_is_429(fiken, api, manual_clock):
    fiken.rate_rule.enabled = True
    statuses = []
    for _ in range(6):
        statuses.append(api.get("/contacts").status_code)
        manual_clock.now += 0.1  # six starts within 0.6 s
    assert statuses == [200] * 4 + [429] * 2
    assert fiken.rate_rule.rejected_by_reason == {"concurrent": 0, "rate": 2}
    manual_clock.now = 1000.0 + 1.0  # a second after the first start: the window has room again
    assert api.get("/contacts").status_code == 200


def test_client_paced_at_250_ms_is_never_refused(fiken, api):
    fiken.rate_rule.enabled = True
    statuses = []
    for _ in range(9):
        statuses.append(api.get("/contacts").status_code)
        # A 250 ms gap after each answer (docs/reference/fiken.md §2 clients): server-side starts are then >=
        # 250 ms apart however late the server saw the previous request.
        time.sleep(0.25)
    assert statuses == [200] * 9
    assert fiken.rate_limited == 0


def test_refused_requests_do_not_count_as_starts(fiken, api, manual_clock):
    fiken.rate_rule.enabled = True
    for _ in range(4):
        assert api.get("/contacts").status_code == 200  # four starts at t = 0
    manual_clock.now += 0.5
    refused = [api.get("/contacts").status_code for _ in range(5)]  # at t = 0.5
    assert refused == [429] * 5
    # At t = 1.1 the accepted starts (t = 0) are out of the window; had the refused ones (t = 0.5)
    # counted, the window would hold five starts and this would be refused too.
    manual_clock.now += 0.6
    assert api.get("/contacts").status_code == 200


def test_rate_rule_can_be_turned_off(fiken, api):
    fiken.rate_rule.enabled = False
    assert {api.get("/contacts").status_code for _ in range(10)} == {200}


# -- OAuth ----


def test_authorization_code_grant_issues_a_bearer_token_pair(fiken):
    fiken.register_client(CLIENT_ID, CLIENT_SECRET, [REDIRECT])
    redirect = authorize(fiken, state="xyz")
    assert redirect.status_code == 302
    params = redirect_params(redirect)
    assert redirect.headers["Location"].startswith(REDIRECT + "?") and params["state"] == "xyz"
    response = token_call(
        fiken,
        {
            "grant_type": "authorization_code",
            "code": params["code"],
            "redirect_uri": REDIRECT,
            "state": "xyz",
        },
    )
    body = response.json()
    assert set(body) == {"access_token", "refresh_token", "token_type", "expires_in"}
    assert (body["token_type"], body["expires_in"]) == ("bearer", 86157)
    companies = httpx.get(
        f"{fiken.api_base_url}/companies", headers={"Authorization": f"Bearer {body['access_token']}"}
    )
    assert [c["slug"] for c in companies.json()] == [SLUG]


def test_authorization_code_is_single_use(fiken):
    fiken.register_client(CLIENT_ID, CLIENT_SECRET, [REDIRECT])
    code = redirect_params(authorize(fiken))["code"]
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT, "state": "st-1"}
    assert token_call(fiken, form).status_code == 200
    again = token_call(fiken, form)
    assert (again.status_code, again.json()["error"]) == (400, "invalid_grant")


def test_token_exchange_needs_the_exact_redirect_uri_and_state(fiken):
    fiken.register_client(CLIENT_ID, CLIENT_SECRET, [REDIRECT])
    code = redirect_params(authorize(fiken))["code"]
    wrong_uri = token_call(
        fiken,
        {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT + "/", "state": "st-1"},
    )
    assert wrong_uri.json() == {
        "error": "invalid_grant",
        "error_description": "The redirect_uri is missing or invalid",
    }
    no_state = token_call(fiken, {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT})
    assert (no_state.status_code, no_state.json()["error"]) == (400, "invalid_request")


def test_token_endpoint_requires_http_basic(fiken):
    fiken.register_client(CLIENT_ID, CLIENT_SECRET, [REDIRECT])
    code = redirect_params(authorize(fiken))["code"]
    response = token_call(
        fiken,
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT,
            "state": "st-1",
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
        },
        headers={},
    )
    assert (response.status_code, response.json()["error"]) == (401, "invalid_client")
    wrong = token_call(
        fiken, {"grant_type": "refresh_token", "refresh_token": "x"}, headers=basic(secret="nope")
    )
    assert wrong.status_code == 401


def test_refresh_rotates_and_the_old_refresh_token_is_rejected(fiken):
    first = code_grant(fiken)
    refreshed = token_call(fiken, {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]})
    assert refreshed.status_code == 200
    assert refreshed.json()["refresh_token"] != first["refresh_token"]
    old = token_call(fiken, {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]})
    assert (old.status_code, old.json()["error"]) == (400, "invalid_grant")
    newest = token_call(
        fiken, {"grant_type": "refresh_token", "refresh_token": refreshed.json()["refresh_token"]}
    )
    assert newest.status_code == 200
    assert fiken.token_calls == {"authorization_code": 1, "refresh_token": 3}


def test_refresh_without_rotation_returns_the_same_refresh_token(fiken):
    fiken.oauth.rotate_refresh_tokens = False
    first = code_grant(fiken)
    refreshed = token_call(
        fiken, {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}
    ).json()
    assert refreshed["refresh_token"] == first["refresh_token"]


def test_access_token_expires_after_its_lifetime(fiken):
    # 2 s, not 0.2: on a loaded 2-core machine the first call alone took longer than 0.2 s (a flaky 401).
    fiken.oauth.access_token_lifetime = 2.0
    try:
        tokens = code_grant(fiken)
        headers = {"Authorization": f"Bearer {tokens['access_token']}"}
        assert httpx.get(f"{fiken.api_base_url}/companies", headers=headers).status_code == 200
        time.sleep(2.1)
        assert httpx.get(f"{fiken.api_base_url}/companies", headers=headers).status_code == 401
    finally:
        fiken.oauth.access_token_lifetime = 86157


def test_revoke_invalidates_access_and_refresh_tokens(fiken):
    tokens = code_grant(fiken)
    refreshed = token_call(
        fiken, {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    ).json()
    revoked = httpx.post(
        f"{fiken.base_url}/oauth/revoke", headers={"Authorization": f"Bearer {refreshed['access_token']}"}
    )
    assert revoked.status_code == 200
    for access in (tokens["access_token"], refreshed["access_token"]):
        assert (
            httpx.get(
                f"{fiken.api_base_url}/companies", headers={"Authorization": f"Bearer {access}"}
            ).status_code
            == 401
        )
    again = token_call(fiken, {"grant_type": "refresh_token", "refresh_token": refreshed["refresh_token"]})
    assert again.json()["error"] == "invalid_grant"


def test_revoked_consent_makes_the_refresh_token_invalid(fiken):
    tokens = code_grant(fiken)
    assert fiken.revoke_consent(client_id=CLIENT_ID) == 1
    response = token_call(fiken, {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]})
    assert response.json()["error"] == "invalid_grant"


def test_user_denial_redirects_with_access_denied(fiken):
    fiken.register_client(CLIENT_ID, CLIENT_SECRET, [REDIRECT])
    fiken.authorize_decision = "deny"
    params = redirect_params(authorize(fiken, state="abc"))
    assert (params["error"], params["state"]) == ("access_denied", "abc")
    assert params["error_description"]


def test_authorize_with_unknown_client_or_unregistered_redirect_is_a_400_page(fiken):
    fiken.register_client(CLIENT_ID, CLIENT_SECRET, [REDIRECT])
    assert authorize(fiken, redirect_uri="https://evil.example/cb").status_code == 400
    unknown = httpx.get(
        f"{fiken.base_url}/oauth/authorize",
        params={"response_type": "code", "client_id": "nobody", "redirect_uri": REDIRECT, "state": "s"},
    )
    assert unknown.status_code == 400 and "text/html" in unknown.headers["Content-Type"]


def test_consent_covers_only_the_companies_the_user_granted(fiken):
    fiken.add_company("other-as")
    fiken.set_consent(companies=["other-as"])
    tokens = code_grant(fiken)
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert httpx.get(f"{fiken.api_base_url}/companies/{SLUG}", headers=headers).status_code == 403
    assert httpx.get(f"{fiken.api_base_url}/companies/other-as", headers=headers).status_code == 200


# -- faults ----


def test_status_fault_answers_the_scripted_status(fiken, api):
    fiken.fault_plan.script("status", status=503, times=2, method="GET", path=r"/contacts$")
    assert [api.get("/contacts").status_code for _ in range(3)] == [503, 503, 200]
    assert fiken.fault_plan.fired()["status"] == 2


def test_timeout_fault_holds_then_closes_without_applying(fiken, api):
    fiken.fault_plan.script("timeout", seconds=0.5, method="POST", path=r"/contacts$")
    with pytest.raises(httpx.ReadTimeout):
        api.post("/contacts", json={"name": "Kunde AS"}, timeout=0.2)
    assert fiken.contacts(SLUG) == []
    assert fiken.fault_plan.fired()["timeout"] == 1


def test_drop_after_apply_stores_the_record_but_the_client_gets_a_connection_error(fiken, api):
    fiken.fault_plan.script("drop_after_apply", method="POST", path=r"/contacts$")
    with pytest.raises(httpx.TransportError):
        api.post("/contacts", json={"name": "Kunde AS", "customer": True})
    assert [c["name"] for c in fiken.contacts(SLUG)] == ["Kunde AS"]
    assert fiken.request_log.find("POST", "/contacts")[-1].outcome == "dropped"
    assert fiken.fault_plan.fired()["drop_after_apply"] == 1


def test_slow_fault_delays_a_normal_answer(fiken, api):
    fiken.fault_plan.script("slow", seconds=0.3, method="GET")
    started = time.monotonic()
    assert api.get("/contacts").status_code == 200
    assert time.monotonic() - started >= 0.3
    assert fiken.fault_plan.fired()["slow"] == 1


def test_probabilistic_faults_are_reproducible_with_a_seed():
    def draws(seed: int) -> list[bool]:
        plan = FaultPlan(seed)
        plan.sometimes("status", 0.5, status=500)
        return [plan.draw("GET", "/x") is not None for _ in range(40)]

    assert draws(7) == draws(7)
    assert 5 < sum(draws(7)) < 35


# -- request log, admin, contract ----


def test_request_log_redacts_authorization(fiken, api, tokens):
    api.post("/contacts", json={"name": "Kunde AS"})
    entry = fiken.request_log.find("POST", "/contacts")[-1]
    assert entry.headers["Authorization"] == "Bearer [REDACTED]"
    assert tokens["access_token"] not in str(entry.to_dict())
    assert (entry.json, entry.status, entry.query) == ({"name": "Kunde AS"}, 201, {})
    assert entry.duration >= 0 and entry.started_at > 0


def test_token_endpoint_body_is_not_logged(fiken):
    code_grant(fiken)
    entry = fiken.request_log.find("POST", "/oauth/token")[-1]
    assert entry.json is None and entry.headers["Authorization"] == "Basic [REDACTED]"


def test_admin_http_routes_dump_state_and_requests(fiken, api):
    make_customer(api, memberNumberString="m-9")
    state = httpx.get(f"{fiken.base_url}/_emulator/state").json()
    assert state["companies"][SLUG]["contacts"][0]["hidden"] == {"memberNumberString": "m-9"}
    requests = httpx.get(f"{fiken.base_url}/_emulator/requests").json()
    assert requests[-1]["headers"]["Authorization"] == "Bearer [REDACTED]"


def test_wrong_type_is_a_contract_violation_answered_400(fiken, api):
    response = api.post("/projects", json={"number": 12, "name": "P", "startDate": "2025-01-01"})
    assert response.status_code == 400
    assert "number" in response.json()["message"]
    [violation] = fiken.contract_violations
    assert (violation.operation, violation.direction) == ("createProject", "request")
    fiken.contract_violations.clear()


def test_unknown_field_is_a_contract_violation_answered_400(fiken, api):
    response = api.post("/contacts", json={"name": "Kunde AS", "customerNo": "1"})
    assert response.status_code == 400
    assert "customerNo" in response.json()["message"]
    assert [v.message for v in fiken.contract_violations] == [
        "customerNo: unexpected field (not in the contact schema)"
    ]
    fiken.contract_violations.clear()


def test_good_requests_raise_no_contract_violations(fiken, api):
    customer = make_customer(
        api, address={"streetAddress": "Storgata 1", "postCode": "0155", "city": "Oslo", "country": "Norway"}
    )
    invoice_id = make_invoice(api, customer)
    api.get(f"/invoices/{invoice_id}")
    api.post("/creditNotes/full", json={"issueDate": "2025-03-02", "invoiceId": invoice_id})
    api.get("/creditNotes", params={"page": 0, "pageSize": 10})
    api.post("/projects", json={"number": "1", "name": "P", "startDate": "2025-01-01", "contactId": customer})
    api.get("/projects")
    api.get("/bankAccounts")
    assert fiken.contract_violations == []


def test_contract_checker_flags_write_only_fields_in_responses():
    contract = load_contract()
    check = contract.check_response(
        "GET",
        "http://x/api/v2/companies/a/contacts/1",
        200,
        {"Content-Type": "application/json"},
        b'{"contactId": 1, "name": "x", "memberNumberString": "5"}',
    )
    assert not check.ok
    assert "write-only" in check.violations[0].message
    keys = {e.key for e in EXEMPTIONS}
    assert "readOnly-in-request" in keys and "saleRequest.paid" not in keys  # sent now, not exempted


def test_oauth_paths_are_outside_the_contract():
    check = load_contract().check_request("POST", "http://x/oauth/token", {}, b"grant_type=refresh_token")
    assert not check.covered and check.ok


def test_handler_survives_garbage_with_a_4xx(fiken, api):
    fiken.contract = None  # the emulator's own checks must hold without the contract
    try:
        bad = [
            api.post("/contacts", content=b"{not json", headers={"Content-Type": "application/json"}),
            api.post("/contacts", json=[1, 2]),
            api.post("/invoices", json={"issueDate": "x", "dueDate": None, "lines": "no"}),
            api.post("/invoices", json=invoice_body(make_customer(api), lines=[{"quantity": "abc"}])),
            api.get("/contacts/not-a-number"),
        ]
    finally:
        fiken.contract = load_contract()
    assert all(400 <= r.status_code < 500 for r in bad), [r.status_code for r in bad]


def test_module_runs_as_a_process():
    process = subprocess.Popen(
        [sys.executable, "-m", "emulators.fiken", "--port", "0", "--personal-token", "dev"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        banner = process.stdout.readline()
        base = banner.split("API ", 1)[1].split("/api/v2", 1)[0]
        response = httpx.get(f"{base}/api/v2/companies", headers={"Authorization": "Bearer dev"})
        assert [c["slug"] for c in response.json()] == ["acme-as"]
    finally:
        process.terminate()
        process.wait(timeout=5)


def test_seeded_company_defaults(fiken, api):
    other = fiken.add_company("ny-as", vat_registered=False, bank_accounts=[BankAccountSeed(verified=False)])
    assert (other.vat_type, other.bank_accounts[0].verified, other.invoice_counter) == ("no", False, 10000)


def test_a_foreign_invoice_is_booked_in_nok_at_fikens_own_rate(api):
    """invoiceRequest takes no exchange rate: the *InNok amounts are Fiken's conversion, not the EUR cents."""
    customer = make_customer(api)
    invoice_id = make_invoice(
        api, customer, currency="EUR", lines=[line(unitPrice=10000, vatType="HIGH"), line(unitPrice=333)]
    )
    booked = api.get(f"/invoices/{invoice_id}").json()
    assert (booked["net"], booked["vat"], booked["currency"]) == (10333, 2583, "EUR")
    # EUR at the emulator's 11.5210, per line: 100.00 -> 1152.10 NOK (VAT 288.03),
    # 3.33 -> 38.36 (VAT 0.83 -> 9.56).
    assert [(li["netInNok"], li["vatInNok"]) for li in booked["lines"]] == [(115210, 28803), (3836, 956)]
    assert (booked["netInNok"], booked["vatInNok"], booked["grossInNok"]) == (119046, 29759, 148805)
    nok = api.get(f"/invoices/{make_invoice(api, customer)}").json()
    assert (nok["netInNok"], nok["grossInNok"]) == (nok["net"], nok["gross"])


def test_a_credited_external_sale_is_a_negative_sale(api):
    """The spec has no credit note for sales; negative order lines (no minimum in orderLine) book one."""
    customer = make_customer(api)
    response = api.post(
        "/sales",
        json={
            "date": "2025-03-02",
            "kind": "external_invoice",
            "paid": False,
            "currency": "NOK",
            "customerId": customer,
            "saleNumber": "M-1002",
            "lines": [
                {
                    "description": "Kreditnota for Moment-faktura M-1001: Arbeid",
                    "vatType": "HIGH",
                    "netPrice": -80000,
                    "vat": -20000,
                    "account": "3000",
                }
            ],
        },
    )
    assert response.status_code == 201, response.text
    sale = api.get(f"/sales/{new_id(response)}").json()
    assert (sale["netAmount"], sale["vatAmount"], sale["outstandingBalance"]) == (-80000, -20000, -100000)
