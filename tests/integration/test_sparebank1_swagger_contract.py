# ruff: noqa: F811 - the fixtures are imported by name
"""Every request the SpareBank 1 connector sends, checked against unimicro-biz-swagger.json (#21).

The description (Swagger 2.0, basePath /api/biz) is older than today's platform, so a path or field
it lacks is not proof of an error: each one the connector uses anyway is listed below with where
it is documented instead. Anything else missing fails the test. Checked: the path and method, every
body field name (nested rows too) and its JSON type.
"""

from __future__ import annotations

import json
import re
from datetime import date
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

from emulators.moment.fixtures import make_line
from tests.integration.sparebank1_fixtures import (  # noqa: F401 - fixtures
    make_sb1_pipeline,
    sparebank1_app,
    sparebank1_emulator,
)

SWAGGER = Path(__file__).resolve().parents[3] / "shared" / "reference" / "unimicro-biz-swagger.json"

# Used although the older description lacks them, each with where it is documented.
NEWER_PATHS = {
    ("put", "/projects/{id}?action=ReactivateProject"): "sparebank1.md §8: absent from the older description",
}
_GENERATED = "sparebank1.md §4.2 (customers) and §5 (projects): observed fields, newer than the description"
_ECHOED = "echoed from the platform's own GET in a GET-merge-PUT; " + _GENERATED
NEWER_FIELDS: dict[tuple[str, str], str] = {
    ("Customer", "VatTypeID"): _ECHOED,
    ("Customer", "SocialSecurityNumber"): _ECHOED,
    ("Customer", "DontUseFactoring"): _ECHOED,
    ("Customer", "CurrencyCode"): _ECHOED + " (the expanded CurrencyCode relation)",
    ("Customer", "VatType"): _ECHOED + " (an expanded relation)",
    ("Customer", "Account"): _ECHOED + " (an expanded relation)",
    ("Project", "ProjectApproverID"): _ECHOED,
    ("Project", "Visible"): _ECHOED,
}
# Types the description gives differently from the platform's documented values.
NEWER_TYPES: dict[tuple[str, str], str] = {
    ("Phone", "Type"): "PhoneTypeEnum, an integer (PtPhone = 150101): sparebank1.md §4.2",
}
_TYPES = {
    "integer": (int,),
    "string": (str,),
    "boolean": (bool,),
    "double": (int, float),
    "number": (int, float),
    "date": (str,),
    "dateTime": (str,),
}


@cache
def swagger() -> dict[str, Any]:
    return json.loads(SWAGGER.read_text(encoding="utf-8"))


def operation_key(method: str, path: str, query: dict[str, list[str]]) -> tuple[str, str]:
    route = re.sub(r"/\d+(?=/|$)", "/{id}", path.removeprefix("/api/biz"))
    action = (query.get("action") or [None])[0]
    return method.lower(), f"{route}?action={action}" if action else route


def body_definition(operation: dict[str, Any]) -> str | None:
    for parameter in operation.get("parameters", []):
        if parameter.get("in") == "body":
            schema = parameter.get("schema") or {}
            ref = schema.get("$ref") or (schema.get("items") or {}).get("$ref")
            return ref.rsplit("/", 1)[-1] if ref else None
    return None


def field_problems(definition: str, value: Any, where: str) -> list[str]:
    if isinstance(value, list):
        return [p for i, item in enumerate(value) for p in field_problems(definition, item, f"{where}[{i}]")]
    if not isinstance(value, dict):
        return []
    properties = swagger()["definitions"][definition]["properties"]
    problems = []
    for name, item in value.items():
        if (definition, name) in NEWER_FIELDS:
            continue
        if name not in properties:
            problems.append(f"{where}.{name}: not in {definition}")
            continue
        schema = properties[name]
        ref = schema.get("$ref") or (schema.get("items") or {}).get("$ref")
        if ref:
            problems += field_problems(ref.rsplit("/", 1)[-1], item, f"{where}.{name}")
        elif item is not None and schema.get("type") in _TYPES and (definition, name) not in NEWER_TYPES:
            ok = isinstance(item, _TYPES[schema["type"]]) and not (
                isinstance(item, bool) and schema["type"] != "boolean"
            )
            if not ok:
                problems.append(
                    f"{where}.{name}: {type(item).__name__}, the description says {schema['type']}"
                )
    return problems


def test_every_request_of_a_full_run_fits_the_published_description(make_sb1_pipeline):
    pipeline = make_sb1_pipeline()
    pipeline.mark()
    customer = pipeline.driver.create_customer(
        name="Fjordlys AS",
        customer_number="100125",
        organization_number="912345670",
        email="post@fjordlys.example",
        website="https://fjordlys.example",
        phone="22 33 44 55",
        fax="22 33 44 56",
        street="Storgata 1",
        post_code="0155",
        city="Oslo",
        country_code="NO",
        currency_code="NOK",
    )
    project = pipeline.driver.create_project(
        name="Nettside", project_number="4712", customer=customer.id, start_date=date(2025, 1, 2)
    )
    pipeline.settle()
    pipeline.driver.update_customer(customer.id, email="faktura@fjordlys.example")
    pipeline.driver.update_project(project.id, project_state="completed")
    invoice = pipeline.driver.finalize_invoice(
        customer=customer.id,
        project=project.id,
        lines=[
            make_line("3000", Decimal("7.5"), 1250, description="Timer"),
            make_line("3100", 1, 500, description="Lisens"),
        ],
        invoice_date=date(2025, 3, 3),
        payment_id="12345674",
        description="Rådgivning mars",
    )
    pipeline.settle()
    pipeline.driver.credit_invoice(invoice.id)
    pipeline.settle()
    assert len(pipeline.records("journalentries")) == 2

    paths = swagger()["paths"]
    problems, seen = [], set()
    for request in pipeline.requests():
        key = operation_key(request.method, request.path, request.query)
        seen.add(key)
        operation = (paths.get(key[1]) or {}).get(key[0])
        if operation is None:
            if key not in NEWER_PATHS:
                problems.append(f"{key[0].upper()} {key[1]}: not in the description")
            continue
        definition = body_definition(operation)
        if request.json is not None and definition is not None:
            problems += field_problems(definition, request.json, f"{key[0].upper()} {key[1]}")
    assert problems == [], "\n".join(problems)
    # The run did exercise the writes that matter.
    assert ("post", "/journalentries?action=book-journal-entries") in seen
    assert ("post", "/customers") in seen and ("put", "/customers/{id}") in seen
