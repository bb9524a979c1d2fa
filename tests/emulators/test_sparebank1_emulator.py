"""The SpareBank 1 Regnskap (Unimicro platform) emulator: one test per behaviour a connector relies on."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from emulators.sparebank1 import SpareBank1Emulator

CLIENT_ID = "momentsync-test-client"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


@pytest.fixture(scope="module")
def signing_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def other_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def server() -> Iterator[SpareBank1Emulator]:
    emulator = SpareBank1Emulator()
    emulator.start()
    yield emulator
    emulator.stop()


@pytest.fixture
def sb1(server: SpareBank1Emulator, signing_key: rsa.RSAPrivateKey) -> SpareBank1Emulator:
    server.reset()
    server.behaviour.createguid_replay = "error"
    server.behaviour.keep_client_invoice_number = False
    server.rate_limit_per_second = None
    public_pem = signing_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    server.register_app(CLIENT_ID, public_pem)
    company = server.add_company("Acme AS")
    server.activate_app_for_company(CLIENT_ID, company.key)
    return server


@pytest.fixture
def company_key(sb1: SpareBank1Emulator) -> str:
    return next(iter(sb1.companies.values())).key


def assertion(
    sb1: SpareBank1Emulator,
    key: rsa.RSAPrivateKey,
    *,
    aud: str | None = None,
    jti: str | None = None,
    exp_in: float = 60,
    iss: str = CLIENT_ID,
) -> str:
    now = int(time.time())
    claims = {
        "jti": jti or str(uuid.uuid4()),
        "sub": CLIENT_ID,
        "iss": iss,
        "iat": now,
        "nbf": now,
        "exp": int(now + exp_in),
        "aud": aud or sb1.token_endpoint,
    }
    return jwt.encode(claims, key, algorithm="RS256")


def request_token(
    sb1: SpareBank1Emulator, client_assertion: str, scope: str = "AppFramework"
) -> httpx.Response:
    return httpx.post(
        sb1.token_endpoint,
        data={
            "grant_type": "client_credentials",
            "scope": scope,
            "client_id": CLIENT_ID,
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": client_assertion,
        },
    )


@pytest.fixture
def api(sb1: SpareBank1Emulator, company_key: str, signing_key: rsa.RSAPrivateKey) -> Iterator[httpx.Client]:
    token = request_token(sb1, assertion(sb1, signing_key)).json()["access_token"]
    with httpx.Client(
        base_url=f"{sb1.base_url}/api/biz",
        headers={"Authorization": f"Bearer {token}", "CompanyKey": company_key},
        timeout=5,
    ) as client:
        yield client


def decimal_json(response: httpx.Response) -> Any:
    import json

    return json.loads(response.content, parse_float=Decimal)


def new_customer(api: httpx.Client, number: int, name: str = "Kunde AS", **extra: Any) -> dict[str, Any]:
    response = api.post(
        "/customers",
        json={"CustomerNumber": number, "Info": {"Name": name, "_createguid": str(uuid.uuid4())}, **extra},
    )
    assert response.status_code == 200, response.text
    return response.json()


def id_of(api: httpx.Client, route: str, filter_: str) -> int:
    rows = api.get(f"/{route}", params={"filter": filter_}).json()
    assert len(rows) == 1, rows
    return rows[0]["ID"]


# -- discovery and identity ------------------------------------------------------------------------


def test_endpoints_discovery_names_identity_and_files_on_the_emulator(sb1: SpareBank1Emulator) -> None:
    body = httpx.get(f"{sb1.base_url}/api/endpoints").json()
    assert body["AppFramework"] == sb1.base_url
    assert body["Identity"] == f"{sb1.base_url}/identity"
    assert body["Files"] == f"{sb1.base_url}/files"
    config = httpx.get(f"{body['Identity']}/.well-known/openid-configuration").json()
    assert config["token_endpoint"] == sb1.token_endpoint


def test_token_from_a_valid_client_assertion(sb1: SpareBank1Emulator, signing_key: rsa.RSAPrivateKey) -> None:
    response = request_token(sb1, assertion(sb1, signing_key))
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600 and body["access_token"]


def test_assertion_signed_with_another_key_is_rejected(
    sb1: SpareBank1Emulator, other_key: rsa.RSAPrivateKey
) -> None:
    response = request_token(sb1, assertion(sb1, other_key))
    assert response.status_code == 400 and response.json()["error"] == "invalid_client"


def test_assertion_with_wrong_audience_is_rejected(
    sb1: SpareBank1Emulator, signing_key: rsa.RSAPrivateKey
) -> None:
    response = request_token(sb1, assertion(sb1, signing_key, aud=sb1.identity_url))
    assert response.status_code == 400 and response.json()["error"] == "invalid_client"


def test_replayed_jti_is_rejected(sb1: SpareBank1Emulator, signing_key: rsa.RSAPrivateKey) -> None:
    jti = str(uuid.uuid4())
    assert request_token(sb1, assertion(sb1, signing_key, jti=jti)).status_code == 200
    replay = request_token(sb1, assertion(sb1, signing_key, jti=jti))
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_client"


def test_expired_or_too_long_lived_assertion_is_rejected(
    sb1: SpareBank1Emulator, signing_key: rsa.RSAPrivateKey
) -> None:
    assert request_token(sb1, assertion(sb1, signing_key, exp_in=-5)).status_code == 400
    assert request_token(sb1, assertion(sb1, signing_key, exp_in=3600)).status_code == 400


def test_issuer_other_than_client_and_missing_scope_are_rejected(
    sb1: SpareBank1Emulator, signing_key: rsa.RSAPrivateKey
) -> None:
    assert request_token(sb1, assertion(sb1, signing_key, iss="someone-else")).status_code == 400
    response = request_token(sb1, assertion(sb1, signing_key), scope="openid")
    assert response.status_code == 400 and response.json()["error"] == "invalid_scope"


def test_expired_access_token_answers_401(sb1: SpareBank1Emulator, api: httpx.Client) -> None:
    assert api.get("/customers").status_code == 200
    sb1.expire_tokens()
    response = api.get("/customers")
    assert response.status_code == 401
    assert response.json()["Message"] == "Authorization has been denied for this request."


# -- tenancy ---------------------------------------------------------------------------------------


def test_bearer_and_company_key_are_required(
    sb1: SpareBank1Emulator, api: httpx.Client, company_key: str
) -> None:
    assert (
        httpx.get(f"{sb1.base_url}/api/biz/customers", headers={"CompanyKey": company_key}).status_code == 401
    )
    no_company = httpx.get(
        f"{sb1.base_url}/api/biz/customers", headers={"Authorization": api.headers["Authorization"]}
    )
    assert no_company.status_code == 401
    companies = httpx.get(
        f"{sb1.base_url}/api/init/companies", headers={"Authorization": api.headers["Authorization"]}
    ).json()
    assert [c["Key"] for c in companies] == [company_key]


def test_company_without_activation_is_refused_in_norwegian(
    sb1: SpareBank1Emulator, api: httpx.Client
) -> None:
    other = sb1.add_company("Annet AS")
    response = api.get("/customers", headers={"CompanyKey": other.key})
    assert response.status_code == 403
    assert response.json()["Message"].startswith("Du har ikke tilgang til Moment Team")
    sb1.activate_app_for_company(CLIENT_ID, other.key)
    assert api.get("/customers", headers={"CompanyKey": other.key}).status_code == 200


# -- lists, filters, expand ------------------------------------------------------------------------


def test_lists_are_pascalcase_bare_arrays_paged_with_top_and_skip(api: httpx.Client) -> None:
    for number in (100001, 100002, 100003):
        new_customer(api, number, f"Kunde {number}")
    page = api.get("/customers", params={"top": 2, "skip": 1, "orderby": "CustomerNumber"}).json()
    assert isinstance(page, list)
    assert [c["CustomerNumber"] for c in page] == [100002, 100003]
    assert {"ID", "CustomerNumber", "OrgNumber", "CurrencyCodeID", "StatusCode"} <= set(page[0])
    assert page[0]["Info"] is None  # relations only come back when expanded
    expanded = api.get(f"/customers/{page[0]['ID']}", params={"expand": "Info"}).json()
    assert expanded["Info"]["Name"] == "Kunde 100002"
    # $-prefixed OData parameters are unknown here, so ignored.
    assert len(api.get("/customers", params={"$top": 1}).json()) == 3


def test_known_filters_work_and_unknown_filter_fields_are_ignored(api: httpx.Client) -> None:
    new_customer(api, 100010, "Alfa AS")
    new_customer(api, 100011, "O'Brien AS")
    assert [
        c["CustomerNumber"]
        for c in api.get("/customers", params={"filter": "CustomerNumber eq 100011"}).json()
    ] == [100011]
    assert len(api.get("/customers", params={"filter": "Info.Name eq 'O''Brien AS'"}).json()) == 1
    both = "CustomerNumber ge 100010 and contains(Info.Name,'alfa')"
    assert [c["CustomerNumber"] for c in api.get("/customers", params={"filter": both}).json()] == [100010]
    # A field the entity does not have: the whole filter is dropped, every row comes back.
    assert len(api.get("/customers", params={"filter": "CustomerNo eq 100011"}).json()) == 2
    assert len(api.get("/customers", params={"filter": "CustomerNumber eq 100011 and Foo eq 1"}).json()) == 2
    nok = api.get("/currencycodes", params={"filter": "Code eq 'NOK'", "select": "ID,Code"}).json()
    assert nok == [{"ID": nok[0]["ID"], "Code": "NOK"}]
    account = api.get("/accounts", params={"filter": "AccountNumber eq 3000"}).json()
    assert len(account) == 1 and account[0]["ID"] != 3000
    vat3 = api.get("/vattypes", params={"filter": "VatCode eq '3'"}).json()
    assert vat3[0]["VatPercent"] == 25 and account[0]["VatTypeID"] == vat3[0]["ID"]


def test_project_filter_by_string_number(api: httpx.Client) -> None:
    api.post("/projects", json={"Name": "Alpha", "ProjectNumber": "1234"})
    api.post("/projects", json={"Name": "Beta", "ProjectNumber": "1235"})
    rows = api.get("/projects", params={"filter": "ProjectNumber eq '1234'"}).json()
    assert [(p["Name"], p["ProjectNumberNumeric"]) for p in rows] == [("Alpha", 1234)]


# -- nested writes and _createguid -----------------------------------------------------------------


def test_nested_customer_create_with_shared_createguid_is_one_row(api: httpx.Client) -> None:
    phone_guid = str(uuid.uuid4())
    body = {
        "CustomerNumber": 100020,
        "OrgNumber": "912345678",
        "Info": {
            "Name": "Nested AS",
            "_createguid": str(uuid.uuid4()),
            "DefaultPhone": {"Number": "+4722000000", "Type": 150101, "_createguid": phone_guid},
            "Phones": [{"Number": "+4722000000", "Type": 150101, "_createguid": phone_guid}],
            "DefaultEmail": {"EmailAddress": "post@nested.no", "_createguid": str(uuid.uuid4())},
            "InvoiceAddress": {
                "AddressLine1": "Gata 1",
                "PostalCode": "0150",
                "City": "Oslo",
                "CountryCode": "NO",
                "_createguid": str(uuid.uuid4()),
            },
        },
    }
    created = api.post("/customers", json=body).json()
    info = created["Info"]
    assert info["DefaultPhoneID"] == info["Phones"][0]["ID"]
    fetched = api.get(
        f"/customers/{created['ID']}",
        params={"expand": "Info.Phones,Info.Emails,Info.DefaultEmail,Info.InvoiceAddress"},
    ).json()
    assert len(fetched["Info"]["Phones"]) == 1
    assert fetched["Info"]["Emails"][0]["EmailAddress"] == "post@nested.no"
    assert fetched["Info"]["InvoiceAddress"]["City"] == "Oslo"


def test_replayed_child_createguid_is_not_inserted_twice(sb1: SpareBank1Emulator, api: httpx.Client) -> None:
    customer = new_customer(api, 100030)
    email = {"EmailAddress": "a@b.no", "_createguid": str(uuid.uuid4())}
    put = {"ID": customer["ID"], "Info": {"ID": customer["Info"]["ID"], "Emails": [email]}}
    assert api.put(f"/customers/{customer['ID']}", json=put).status_code == 200
    # The retried write (e.g. the answer was lost) must not add a second e-mail row.
    replay = api.put(f"/customers/{customer['ID']}", json=put)
    assert replay.status_code == 400
    assert "_createguid" in replay.json()["_validationResults"]
    emails = api.get(f"/customers/{customer['ID']}", params={"expand": "Info.Emails"}).json()["Info"][
        "Emails"
    ]
    assert len(emails) == 1
    sb1.behaviour.createguid_replay = "reuse"
    assert api.put(f"/customers/{customer['ID']}", json=put).status_code == 200
    emails = api.get(f"/customers/{customer['ID']}", params={"expand": "Info.Emails"}).json()["Info"][
        "Emails"
    ]
    assert len(emails) == 1


def test_put_keeps_absent_children_and_needs_createguid_for_new_ones(api: httpx.Client) -> None:
    customer = new_customer(api, 100040)
    info_id = customer["Info"]["ID"]
    api.put(
        f"/customers/{customer['ID']}",
        json={
            "Info": {
                "ID": info_id,
                "Phones": [
                    {"Number": "1", "_createguid": str(uuid.uuid4())},
                    {"Number": "2", "_createguid": str(uuid.uuid4())},
                ],
            }
        },
    )
    phones = api.get(f"/customers/{customer['ID']}", params={"expand": "Info.Phones"}).json()["Info"][
        "Phones"
    ]
    # Only the first phone is sent back, changed: the second stays; a new row without _createguid is refused.
    first = {**phones[0], "Number": "11"}
    assert (
        api.put(
            f"/customers/{customer['ID']}",
            json={"WebUrl": "https://x.no", "Info": {"ID": info_id, "Phones": [first]}},
        ).status_code
        == 200
    )
    after = api.get(f"/customers/{customer['ID']}", params={"expand": "Info.Phones"}).json()
    assert sorted(p["Number"] for p in after["Info"]["Phones"]) == ["11", "2"]
    assert after["WebUrl"] == "https://x.no" and after["CustomerNumber"] == 100040
    refused = api.put(
        f"/customers/{customer['ID']}", json={"Info": {"ID": info_id, "Phones": [{"Number": "3"}]}}
    )
    assert refused.status_code == 400
    deleted = api.put(
        f"/customers/{customer['ID']}",
        json={"Info": {"ID": info_id, "Phones": [{"ID": phones[1]["ID"], "Deleted": True}]}},
    )
    assert deleted.status_code == 200
    left = api.get(f"/customers/{customer['ID']}", params={"expand": "Info.Phones"}).json()["Info"]["Phones"]
    assert [p["Number"] for p in left] == ["11"]


# -- errors ----------------------------------------------------------------------------------------


def test_validation_400_has_validation_results_message_and_messages(api: httpx.Client) -> None:
    new_customer(api, 100050)
    duplicate = api.post("/customers", json={"CustomerNumber": 100050, "Info": {"Name": "Dup"}})
    assert duplicate.status_code == 400
    body = duplicate.json()
    assert body["_validationResults"]["CustomerNumber"][0]["EntityType"] == "Customer"
    assert "already in use" in body["Message"]
    assert body["Messages"][0]["PropertyName"] == "CustomerNumber"
    out_of_series = api.post("/customers", json={"CustomerNumber": 42, "Info": {"Name": "Liten"}})
    assert out_of_series.status_code == 400 and "series" in out_of_series.json()["Message"]
    # A failed write changes nothing.
    assert len(api.get("/customers").json()) == 1


def test_foreign_key_problem_is_a_500_naming_the_field(api: httpx.Client) -> None:
    response = api.post(
        "/customers", json={"CustomerNumber": 100060, "CurrencyCodeID": 9999, "Info": {"Name": "Valuta AS"}}
    )
    assert response.status_code == 500
    assert "CurrencyCodeID" in response.json()["ExceptionMessage"]
    assert api.get("/customers").json() == []


def test_unknown_route_and_record_answer_404(api: httpx.Client) -> None:
    assert api.get("/customerinvoices").status_code == 404
    assert api.get("/customers/999").status_code == 404


# -- projects --------------------------------------------------------------------------------------


def test_project_status_changes_only_through_transitions(api: httpx.Client) -> None:
    customer = new_customer(api, 100070)
    project = api.post(
        "/projects",
        json={
            "Name": "P",
            "ProjectNumber": "77",
            "ProjectNumberNumeric": 77,
            "ProjectCustomerID": customer["ID"],
            "StartDate": "2025-01-02",
            "StatusCode": 42204,
        },
    ).json()
    assert project["StatusCode"] == 42201  # a written StatusCode is ignored
    pid = project["ID"]
    assert api.put(f"/projects/{pid}", json={"StatusCode": 42204, "EndDate": "2025-12-31"}).status_code == 200
    assert api.get(f"/projects/{pid}").json()["StatusCode"] == 42201
    assert api.post(f"/projects/{pid}", params={"action": "CompleteProject"}).status_code == 400
    assert (
        api.post(f"/projects/{pid}", params={"action": "StartProject", "projectID": pid}).status_code == 204
    )
    assert api.post(f"/projects/{pid}", params={"action": "CompleteProject"}).status_code == 204
    assert api.get(f"/projects/{pid}").json()["StatusCode"] == 42204
    assert api.post(f"/projects/{pid}", params={"action": "ReactivateProject"}).status_code == 204
    fetched = api.get(f"/projects/{pid}", params={"expand": "ProjectCustomer"}).json()
    assert fetched["StatusCode"] == 42203 and fetched["ProjectCustomer"]["CustomerNumber"] == 100070
    assert api.post(f"/projects/{pid}", params={"action": "start"}).status_code == 404


# -- invoices --------------------------------------------------------------------------------------


def _invoice_body(api: httpx.Client, customer_id: int, project_id: int | None = None) -> dict[str, Any]:
    account_id = id_of(api, "accounts", "AccountNumber eq 3000")
    vat_id = id_of(api, "vattypes", "VatCode eq '3'")
    dims = {"Dimensions": {"ProjectID": project_id, "_createguid": str(uuid.uuid4())}} if project_id else {}
    return {
        "CustomerID": customer_id,
        "InvoiceDate": "2025-03-01",
        "PaymentDueDate": "2025-03-15",
        "InvoiceNumber": "20001",
        "PaymentID": "0000200013",
        "Items": [
            {
                "ItemText": "Konsulenttimer",
                "NumberOfItems": 3,
                "PriceExVat": 333.33,
                "AccountID": account_id,
                "VatTypeID": vat_id,
                "SortIndex": 1,
                "_createguid": str(uuid.uuid4()),
                **dims,
            },
            {
                "ItemText": "Reise",
                "NumberOfItems": 1,
                "PriceExVat": 100,
                "AccountID": account_id,
                "VatTypeID": vat_id,
                "SortIndex": 2,
                "_createguid": str(uuid.uuid4()),
            },
        ],
    }


def test_customer_invoice_totals_transition_journal_and_credit_note(api: httpx.Client) -> None:
    customer = new_customer(api, 100080)
    project = api.post("/projects", json={"Name": "P", "ProjectNumber": "80"}).json()
    draft = decimal_json(api.post("/invoices", json=_invoice_body(api, customer["ID"], project["ID"])))
    assert draft["StatusCode"] == 42001
    assert draft["TaxExclusiveAmount"] == Decimal("1099.99")
    assert draft["VatTotalsAmount"] == Decimal("275") and draft["TaxInclusiveAmount"] == Decimal("1374.99")
    assert draft["Items"][0]["SumVat"] == Decimal("250")  # round(999.99 × 25 %) half-up
    assert api.post(f"/invoices/{draft['ID']}", params={"action": "invoice"}).status_code == 204
    invoiced = api.get(f"/invoices/{draft['ID']}", params={"expand": "Items"}).json()
    assert invoiced["StatusCode"] == 42002 and invoiced["PaymentID"] == "0000200013"
    assert invoiced["InvoiceNumber"] == "1"  # the platform's series wins by default (knob)
    lines = api.get(
        "/journalentrylines",
        params={"filter": f"JournalEntryID eq {invoiced['JournalEntryID']}", "expand": "Dimensions"},
    ).json()
    assert sum(Decimal(str(line["Amount"])) for line in lines) == 0
    receivable = next(line for line in lines if line["SubAccountID"])
    assert receivable["Amount"] == 1374.99 and receivable["PaymentID"] == "0000200013"
    assert any(line["Dimensions"] and line["Dimensions"]["ProjectID"] == project["ID"] for line in lines)
    assert api.post(f"/invoices/{draft['ID']}", params={"action": "invoice"}).status_code == 400
    credit = api.put(f"/invoices/{draft['ID']}", params={"action": "create-credit-draft-invoice"}).json()
    assert credit["InvoiceType"] == 1 and credit["InvoiceReferenceID"] == draft["ID"]
    assert credit["TaxInclusiveAmount"] == -1374.99
    assert api.post(f"/invoices/{credit['ID']}", params={"action": "invoice"}).status_code == 204
    assert api.get(f"/invoices/{draft['ID']}").json()["StatusCode"] == 42006


def test_client_invoice_number_survives_when_the_knob_says_so(
    sb1: SpareBank1Emulator, api: httpx.Client
) -> None:
    sb1.behaviour.keep_client_invoice_number = True
    customer = new_customer(api, 100090)
    draft = api.post("/invoices", json=_invoice_body(api, customer["ID"])).json()
    api.post(f"/invoices/{draft['ID']}", params={"action": "invoice"})
    assert api.get("/invoices", params={"filter": "InvoiceNumber eq '20001'"}).json()[0]["ID"] == draft["ID"]


def test_invoice_item_with_account_number_instead_of_id_is_a_500(api: httpx.Client) -> None:
    customer = new_customer(api, 100095)
    body = _invoice_body(api, customer["ID"])
    body["Items"][0]["AccountID"] = 3000
    response = api.post("/invoices", json=body)
    assert response.status_code == 500 and "AccountID" in response.json()["ExceptionMessage"]


# -- journal entries -------------------------------------------------------------------------------


def test_book_journal_entry_as_voucher_numbered_from_kid(api: httpx.Client) -> None:
    customer = new_customer(api, 100100)
    project = api.post("/projects", json={"Name": "P", "ProjectNumber": "100"}).json()
    receivable = id_of(api, "accounts", f"AccountNumber eq {customer['CustomerNumber']}")
    sales = id_of(api, "accounts", "AccountNumber eq 3000")
    vat3 = id_of(api, "vattypes", "VatCode eq '3'")
    common = {"FinancialDate": "2025-03-01", "InvoiceNumber": "20002", "PaymentID": "200024"}
    body = [
        {
            "JournalEntryNumber": "200024",
            "DraftLines": [
                {
                    **common,
                    "AccountID": receivable,
                    "Amount": 1250.0,
                    "DueDate": "2025-03-15",
                    "Description": "Faktura 20002",
                },
                {
                    **common,
                    "AccountID": sales,
                    "Amount": -1250.0,
                    "VatTypeID": vat3,
                    "Description": "Timer",
                    "Dimensions": {"ProjectID": project["ID"], "_createguid": str(uuid.uuid4())},
                },
            ],
        }
    ]
    response = api.post("/journalentries", params={"action": "book-journal-entries"}, json=body)
    assert response.status_code == 200, response.text
    entry = response.json()  # a bare object, as unimicro-biz-swagger.json declares it
    assert isinstance(entry, dict)
    assert entry["JournalEntryNumber"] == "200024-2025"
    amounts = sorted(line["Amount"] for line in entry["Lines"])
    assert amounts == [-1000.0, -250.0, 1250.0]  # VAT split off the gross revenue line
    found = api.get(
        "/journalentrylines", params={"filter": "InvoiceNumber eq '20002' and PaymentID eq '200024'"}
    )
    assert len(found.json()) == 3
    # A retried booking: the nested Dimensions' _createguid is refused first ...
    replay = api.post("/journalentries", params={"action": "book-journal-entries"}, json=body)
    assert replay.status_code == 400 and "_createguid" in replay.json()["Message"]
    # ... and with fresh guids the voucher number (from the KID) is still taken.
    body[0]["DraftLines"][1]["Dimensions"]["_createguid"] = str(uuid.uuid4())
    duplicate = api.post("/journalentries", params={"action": "book-journal-entries"}, json=body)
    assert duplicate.status_code == 400 and "already in use" in duplicate.json()["Message"]
    assert len(api.get("/journalentries").json()) == 1
    unbalanced = [{"DraftLines": [{**common, "AccountID": receivable, "Amount": 10}]}]
    assert (
        api.post("/journalentries", params={"action": "book-journal-entries"}, json=unbalanced).status_code
        == 400
    )
    credit = api.post(
        "/journalentries", params={"action": "credit-journal-entry", "journalEntryNumber": "200024-2025"}
    )
    assert credit.status_code == 200 and sum(line["Amount"] for line in credit.json()["Lines"]) == 0


def test_book_journal_entries_create_invoices_keeps_number_and_kid(api: httpx.Client) -> None:
    customer = new_customer(api, 100110)
    receivable = id_of(api, "accounts", "AccountNumber eq 100110")
    sales = id_of(api, "accounts", "AccountNumber eq 3100")
    common = {"FinancialDate": "2025-04-01", "InvoiceNumber": "30001", "PaymentID": "300013"}
    body = [
        {
            "DraftLines": [
                {**common, "AccountID": receivable, "Amount": 500},
                {**common, "AccountID": sales, "Amount": -500},
            ]
        }
    ]
    response = api.post(
        "/journalentries",
        params={"action": "book-journal-entries-create-invoices", "generateKID": "false"},
        json=body,
    )
    assert response.status_code == 200, response.text
    invoice = api.get("/invoices", params={"filter": "InvoiceNumber eq '30001'"}).json()[0]
    assert invoice["PaymentID"] == "300013" and invoice["CustomerID"] == customer["ID"]
    assert invoice["StatusCode"] == 42002 and invoice["CreatedFromJournalEntry"] is True


# -- faults, log, rate limit -----------------------------------------------------------------------


def test_fault_plan_and_request_log_redact_the_token(sb1: SpareBank1Emulator, api: httpx.Client) -> None:
    sb1.fault_plan.script("status", status=503, path=r"/api/biz/customers$")
    assert api.get("/customers").status_code == 503
    assert api.get("/customers").status_code == 200
    entries = sb1.request_log.find("GET", "/api/biz/customers")
    assert len(entries) == 2 and entries[0].fault == "status"
    assert entries[1].headers["Authorization"] == "Bearer [REDACTED]"
    assert entries[1].headers["CompanyKey"]


def test_optional_rate_limit_answers_429(sb1: SpareBank1Emulator, api: httpx.Client) -> None:
    sb1.rate_limit_per_second = 2
    statuses = [api.get("/currencycodes").status_code for _ in range(3)]
    assert statuses == [200, 200, 429]


def test_admin_records_and_reset(sb1: SpareBank1Emulator, api: httpx.Client, company_key: str) -> None:
    new_customer(api, 100120, "Admin AS")
    rows = sb1.records(company_key, "customers", expand="Info")
    assert [r["Info"]["Name"] for r in rows] == ["Admin AS"]
    sb1.reset()
    assert sb1.companies == {}
