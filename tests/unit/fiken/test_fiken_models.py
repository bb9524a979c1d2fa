"""The Fiken models against Fiken's own OpenAPI file, so they cannot drift from the contract.

Request bodies are validated against the spec's schemas (``$ref``s resolved) with every object made
``additionalProperties: false``: a field the spec does not define fails here, before Fiken sees it.
"""

from __future__ import annotations

import copy
import datetime as dt
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
import yaml
from openapi_schema_validator import OAS30WriteValidator
from pydantic import BaseModel, ValidationError
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

from momentsync.connectors.fiken import client as fiken_client
from momentsync.connectors.fiken import models as m

SPEC_PATH = Path(__file__).resolve().parents[3] / "contracts" / "fiken-openapi.yaml"  # the published spec
SPEC_URI = "urn:fiken-openapi"


@cache
def spec() -> dict[str, Any]:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return yaml.load(SPEC_PATH.read_text(), Loader=loader)  # noqa: S506 - a safe loader


@cache
def strict_registry() -> Registry:
    strict = copy.deepcopy(spec())
    for schema in strict["components"]["schemas"].values():
        _forbid_extra_properties(schema)
    return Registry().with_resource(SPEC_URI, Resource.from_contents(strict, default_specification=DRAFT4))


def _forbid_extra_properties(schema: Any) -> None:
    if isinstance(schema, dict):
        if "properties" in schema:
            schema.setdefault("additionalProperties", False)
            # A required name the schema does not define (saleRequest's ``paid``) must be sendable.
            for name in schema.get("required", []):
                schema["properties"].setdefault(name, {})
        for value in schema.values():
            _forbid_extra_properties(value)
    elif isinstance(schema, list):
        for value in schema:
            _forbid_extra_properties(value)


def spec_errors(schema_name: str, body: dict[str, Any]) -> list[str]:
    validator = OAS30WriteValidator(
        {"$ref": f"{SPEC_URI}#/components/schemas/{schema_name}"}, registry=strict_registry()
    )
    # No exemption: every required name, including saleRequest's undefined ``paid``, is checked.
    return sorted(f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(body))


def schema(name: str) -> dict[str, Any]:
    return spec()["components"]["schemas"][name]


def aliases(model: type[BaseModel]) -> set[str]:
    return {field.alias or name for name, field in model.model_fields.items()}


def required_aliases(model: type[BaseModel]) -> set[str]:
    return {field.alias or name for name, field in model.model_fields.items() if field.is_required()}


ADDRESS = m.Address(street_address="Storgata 1", street_address_line2="c/o Kari", city="Oslo",
                    post_code="0550", country="Norway")  # fmt: skip
LINE = m.InvoiceLineRequest(
    quantity=Decimal("1.5"),
    unit_price=125000,
    vat_type="HIGH",
    discount=Decimal("10"),
    description="Konsulenttimer",
    comment="Uke 12",
    income_account="3000",
)

SALE = m.SaleRequest(
    sale_number="10042",
    date=dt.date(2026, 3, 1),
    kind=m.SaleKind.EXTERNAL_INVOICE,
    lines=[m.OrderLine(description="Timer", vat_type="HIGH", net_price=100000, vat=25000, account="3000")],
    customer_id=77,
    currency="NOK",
    due_date=dt.date(2026, 3, 15),
    kid="0000100426",
    project_id=12,
)

REQUEST_BODIES: list[tuple[str, m.FikenRequest | m.Counter]] = [
    (
        "contact",
        m.Contact(
            name="Acme AS",
            email="post@acme.no",
            organization_number="999888777",
            phone_number="+4722334455",
            member_number_string="moment-customer-42",
            customer=True,
            supplier=False,
            bank_account_number="12345678903",
            contact_person=[m.ContactPerson(name="Kari", email="kari@acme.no", address=ADDRESS)],
            currency="NOK",
            language=m.ContactLanguage.NORWEGIAN,
            inactive=False,
            days_until_invoicing_due_date=14,
            discount=Decimal("12.5"),
            address=ADDRESS,
            groups=["moment"],
        ),
    ),
    ("contact", m.Contact(name="Minimal AS")),
    (
        "projectRequest",
        m.ProjectRequest(
            number="P-1001",
            name="Website",
            description="Relaunch",
            start_date=dt.date(2026, 1, 5),
            end_date=dt.date(2026, 6, 30),
            contact_id=77,
            completed=False,
        ),
    ),
    ("updateProjectRequest", m.UpdateProjectRequest(name="Website v2", completed=True)),
    (
        "invoiceRequest",
        m.InvoiceRequest(
            uuid=UUID("7a8e3f0e-1b2c-4d5e-8f90-123456789abc"),
            issue_date=dt.date(2026, 3, 1),
            due_date=dt.date(2026, 3, 15),
            lines=[LINE, m.InvoiceLineRequest(quantity=1, net=10000, vat=2500, gross=12500, vat_type="HIGH")],
            our_reference="Ola",
            your_reference="Kari",
            order_reference="PO-7",
            customer_id=77,
            contact_person_id=3,
            bank_account_code="1920:10001",
            currency="NOK",
            invoice_text="Takk for oppdraget",
            cash=False,
            project_id=12,
            rounding_type=m.RoundingType.NONE,
        ),
    ),
    ("updateInvoiceRequest", m.UpdateInvoiceRequest(new_due_date=dt.date(2026, 4, 1), sent_manually=True)),
    (
        "fullCreditNoteRequest",
        m.FullCreditNoteRequest(issue_date=dt.date(2026, 3, 2), invoice_id=501, credit_note_text="Feil"),
    ),
    (
        "partialCreditNoteRequest",
        m.PartialCreditNoteRequest(
            issue_date=dt.date(2026, 3, 2),
            invoice_id=501,
            lines=[m.CreditNoteLine(quantity=1, unit_price=5000, vat_type="HIGH", income_account="3000")],
            project=12,
            credit_note_text="Delvis kreditering",
            rounding_type=m.RoundingType.ROUND_HALF,
        ),
    ),
    ("saleRequest", SALE),
    (
        "bankAccountRequest",
        m.BankAccountRequest(
            name="Driftskonto", bank_account_number="12345678903", type=m.BankAccountType.NORMAL
        ),
    ),
    ("counter", m.Counter()),
    ("counter", m.Counter(value=20000)),
]


@pytest.mark.parametrize(("schema_name", "request_model"), REQUEST_BODIES)
def test_request_bodies_validate_against_the_spec(schema_name: str, request_model: m.FikenRequest) -> None:
    assert spec_errors(schema_name, request_model.to_body()) == []


def test_the_strict_spec_check_does_catch_unknown_and_read_only_fields() -> None:
    body = m.Contact(name="Acme AS").to_body()
    assert spec_errors("contact", {**body, "memberNumberStr": "x"})
    assert spec_errors("contact", {**body, "customerNumber": 10001})
    assert spec_errors("contact", {"email": "post@acme.no"})  # name is required
    sale = SALE.to_body()
    assert sale["paid"] is False  # required by the spec as published: sent
    assert spec_errors("saleRequest", {k: v for k, v in sale.items() if k != "paid"})
    assert spec_errors("saleRequest", {k: v for k, v in sale.items() if k != "currency"})


# Every model paired with the spec schema it stands for.
MODEL_SCHEMAS: list[tuple[type[BaseModel], str]] = [
    (m.Address, "address"),
    (m.AddressResult, "address"),
    (m.Attachment, "attachment"),
    (m.Counter, "counter"),
    (m.ContactPerson, "contactPerson"),
    (m.ContactPersonResult, "contactPerson"),
    (m.Contact, "contact"),
    (m.ContactResult, "contact"),
    (m.ProjectRequest, "projectRequest"),
    (m.UpdateProjectRequest, "updateProjectRequest"),
    (m.ProjectResult, "projectResult"),
    (m.InvoiceLineRequest, "invoiceLineRequest"),
    (m.InvoiceRequest, "invoiceRequest"),
    (m.UpdateInvoiceRequest, "updateInvoiceRequest"),
    (m.InvoiceLineResult, "invoiceLineResult"),
    (m.InvoiceResult, "invoiceResult"),
    (m.FullCreditNoteRequest, "fullCreditNoteRequest"),
    (m.CreditNoteLine, "creditNoteLineResult"),
    (m.PartialCreditNoteRequest, "partialCreditNoteRequest"),
    (m.CreditNoteResult, "creditNoteResult"),
    (m.OrderLine, "orderLine"),
    (m.OrderLineResult, "orderLine"),
    (m.SaleRequest, "saleRequest"),
    (m.SaleResult, "saleResult"),
    (m.BankAccountRequest, "bankAccountRequest"),
    (m.BankAccountResult, "bankAccountResult"),
    (m.Account, "account"),
    (m.Company, "company"),
]


@pytest.mark.parametrize(("model", "schema_name"), MODEL_SCHEMAS, ids=lambda v: getattr(v, "__name__", v))
def test_every_model_field_is_a_spec_property(model: type[BaseModel], schema_name: str) -> None:
    # A name the schema requires counts as its property even where undefined (saleRequest.paid).
    declared = set(schema(schema_name)["properties"]) | set(schema(schema_name).get("required", []))
    assert aliases(model) - declared == set()


@pytest.mark.parametrize(
    ("model", "schema_name"),
    [(model, name) for model, name in MODEL_SCHEMAS if issubclass(model, m.FikenRequest)],
    ids=lambda v: getattr(v, "__name__", v),
)
def test_request_models_carry_no_read_only_field_and_require_what_the_spec_requires(
    model: type[BaseModel], schema_name: str
) -> None:
    properties = schema(schema_name)["properties"]
    assert {a for a in aliases(model) if properties.get(a, {}).get("readOnly")} == set()
    spec_required = set(schema(schema_name).get("required", []))
    always_sent = {
        f.alias or n for n, f in model.model_fields.items() if not f.is_required() and f.default is not None
    }
    assert spec_required - required_aliases(model) - always_sent == set()


def _query_parameters(path: str) -> set[str]:
    names = set()
    for parameter in spec()["paths"][path]["get"].get("parameters", []):
        if "$ref" in parameter:
            parameter = spec()["components"]["parameters"][parameter["$ref"].rsplit("/", 1)[-1]]
        names.add(parameter["name"])
    return names


@pytest.mark.parametrize(
    ("filter_model", "path"),
    [
        (m.ContactFilter, "/companies/{companySlug}/contacts"),
        (m.ProjectFilter, "/companies/{companySlug}/projects"),
        (m.InvoiceFilter, "/companies/{companySlug}/invoices"),
        (m.CreditNoteFilter, "/companies/{companySlug}/creditNotes"),
        (m.SaleFilter, "/companies/{companySlug}/sales"),
        (m.BankAccountFilter, "/companies/{companySlug}/bankAccounts"),
        (m.AccountFilter, "/companies/{companySlug}/accounts"),
    ],
    ids=lambda v: getattr(v, "__name__", v),
)
def test_filters_are_the_spec_query_parameters(filter_model: type[BaseModel], path: str) -> None:
    assert aliases(filter_model) - _query_parameters(path) == set()


def test_sale_attachment_target_is_the_spec_query() -> None:
    post = spec()["paths"]["/companies/{companySlug}/sales/{saleId}/attachments"]["post"]
    assert aliases(m.SaleAttachmentTarget) == {p["name"] for p in post["parameters"]}


def test_every_client_path_template_is_a_spec_path() -> None:
    templates = {
        value
        for name, value in vars(fiken_client).items()
        if name.isupper() and isinstance(value, str) and value.startswith("/companies")
    }
    assert len(templates) >= 19
    assert templates - set(spec()["paths"]) == set()


# ---------------------------------------------------------------- behaviour of the models
def test_dumps_leave_out_unset_fields_and_use_spec_names() -> None:
    body = m.Contact(name="Acme AS", member_number_string="moment-1", customer=True).to_body()
    assert body == {"name": "Acme AS", "memberNumberString": "moment-1", "customer": True}


def test_requests_refuse_unknown_fields_by_python_or_json_name() -> None:
    with pytest.raises(ValidationError, match="member_number"):
        m.Contact(name="Acme AS", member_number="1")
    with pytest.raises(ValidationError):
        m.ProjectRequest.model_validate(
            {"number": "1", "name": "x", "startDate": "2026-01-01", "customerId": 5}
        )


def test_requests_accept_json_names_too() -> None:
    project = m.ProjectRequest.model_validate({"number": "1", "name": "x", "startDate": "2026-01-01"})
    assert project.to_body() == {"number": "1", "name": "x", "startDate": "2026-01-01"}


@pytest.mark.parametrize("amount", [100.0, 99.5, "100", True])
def test_money_must_be_integer_ore(amount: Any) -> None:
    with pytest.raises(ValidationError):
        m.InvoiceLineRequest(quantity=1, unit_price=amount)
    with pytest.raises(ValidationError):
        m.OrderLine(description="x", vat_type="HIGH", net_price=amount)


def test_quantities_and_percentages_go_out_as_json_numbers() -> None:
    body = m.InvoiceLineRequest(quantity=Decimal("2.50"), discount=Decimal("25"), unit_price=100).to_body()
    assert body == {"quantity": 2.5, "discount": 25, "unitPrice": 100}
    assert isinstance(body["discount"], int)


def test_limits_from_the_spec_are_enforced() -> None:
    with pytest.raises(ValidationError):
        m.Contact(name="")
    with pytest.raises(ValidationError):
        m.Contact(name="x", currency="nok")
    with pytest.raises(ValidationError):
        m.InvoiceLineRequest(quantity=1, discount=101)
    with pytest.raises(ValidationError):
        m.InvoiceRequest(
            issue_date=dt.date(2026, 1, 1), due_date=dt.date(2026, 1, 2), lines=[], customer_id=1,
            bank_account_code="1920:10001", cash=False,
        )  # fmt: skip


def test_results_ignore_fields_they_do_not_know() -> None:
    invoice = m.InvoiceResult.model_validate(
        {
            "invoiceId": 501,
            "invoiceNumber": 10001,
            "gross": 12500,
            "issueDate": "2026-03-01",
            "somethingNew": {"nested": True},
            "lines": [{"net": 10000, "vatType": "HIGH", "newLineField": 1}],
            "customer": {"contactId": 77, "name": "Acme AS", "customerNumber": 10001, "extra": "x"},
            "sale": {"saleId": 9, "extra": 1},
        }
    )
    assert invoice.invoice_number == 10001
    assert invoice.issue_date == dt.date(2026, 3, 1)
    assert invoice.customer is not None and invoice.customer.customer_number == 10001
    assert invoice.sale is not None and invoice.sale.sale_id == 9


def test_contact_result_to_contact_keeps_writable_fields_only() -> None:
    current = m.ContactResult.model_validate(
        {
            "contactId": 77,
            "createdDate": "2026-01-01",
            "name": "Acme AS",
            "customerNumber": 10001,
            "customerAccountCode": "1500:10001",
            "customer": True,
            "language": "Norwegian",
            "groups": ["vip"],
            "address": {"streetAddress": "Storgata 1", "country": "Norway"},
            "contactPerson": [{"contactPersonId": 5, "name": "Kari", "email": "kari@acme.no"}],
        }
    )
    contact = current.to_contact(member_number_string="moment-customer-42", inactive=True)
    body = contact.to_body()
    assert body == {
        "name": "Acme AS",
        "customer": True,
        "language": "NORWEGIAN",
        "groups": ["vip"],
        "address": {"streetAddress": "Storgata 1", "country": "Norway"},
        "contactPerson": [{"name": "Kari", "email": "kari@acme.no"}],
        "memberNumberString": "moment-customer-42",
        "inactive": True,
    }
    assert spec_errors("contact", body) == []
