"""Fiken's published OpenAPI spec (``contracts/fiken-openapi.yaml``) as a request/response checker.

``load_contract()`` parses the 270 KB spec once per process (cached) and returns a ``FikenContract``:

- ``check_request(method, url, headers, body) -> ContractCheck``
- ``check_response(method, url, status, headers, body) -> ContractCheck``

``url`` is the full URL as sent to any host: everything after ``/api/v2`` is checked against the
spec's server ``https://api.fiken.no/api/v2``. URLs outside ``/api/v2`` (``/oauth/*``: the spec has
no OAuth paths, only the ``fiken_api_oauth`` security scheme and prose; ``/_emulator/*``) are not
covered and yield ``covered=False``.

What is checked, on top of openapi-core 0.23 (path, operation, parameters, media type, body schema,
formats, readOnly/writeOnly, response headers): **unexpected body fields**. The spec's intro says
400 for "unexpected fields", but no schema sets ``additionalProperties: false``, so openapi-core
would let any field through; ``_unexpected_fields`` walks the operation's schema for that.

Where the spec cannot be followed as written, the departure is listed in ``EXEMPTIONS`` (one place)
with its reason; a check that an exemption suppressed is still reported in ``ContractCheck.exempted``
so nothing is loosened silently. Loading note (not an exemption): YAML reads the one unquoted
response code (``201:`` under ``POST /inbox``) as an int; keys are stringified as JSON would.
"""

from __future__ import annotations

import copy
import json
import re
import threading
import warnings
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import yaml
from openapi_core import OpenAPI
from openapi_core.testing import MockRequest, MockResponse

CONTRACT_PATH = Path(__file__).resolve().parents[2] / "contracts" / "fiken-openapi.yaml"
SPEC_SERVER = "https://api.fiken.no"
API_PREFIX = "/api/v2"


@dataclass(frozen=True)
class Exemption:
    key: str
    what: str
    reason: str


EXEMPTIONS: tuple[Exemption, ...] = (
    Exemption(
        "creditNoteResult.address",
        "creditNoteResult lists `address` as required; the emulator omits it when the customer has none.",
        "contact.address is optional (and address requires `country`), so a credit note to a contact "
        "without an address has nothing to copy; inventing one would hide what the connector sent.",
    ),
    Exemption(
        "readOnly-in-request",
        "readOnly properties in a request body (contactId, customerNumber, createdDate, ...) are "
        "accepted and ignored instead of rejected.",
        "OAS 3.0.2 says readOnly properties SHOULD NOT be sent (not MUST NOT); `contact` is the only "
        "schema for both POST and PUT, and a GET-merge-PUT (docs/reference/fiken.md §3.1) round-trips "
        "them. Fiken assigns customerNumber and ignores a sent one.",
    ),
    Exemption(
        "undocumented-error-status",
        'Error answers (4xx/5xx) are checked against Fiken\'s error shape `{"message": str}` (or the '
        'OAuth `{"error", "error_description"}`), not against the operation.',
        "The spec declares no error response on any operation and has no error schema, although its "
        "intro lists 400/401/403/404/405/415 and 429 (docs/reference/fiken.md §4).",
    ),
    Exemption(
        "oauth2-security",
        "The bearer token is checked by the emulator (401/403), not by openapi-core.",
        "openapi-core cannot evaluate `oauth2` security schemes (it only warns).",
    ),
)

# The keys above that rewrite the spec before it is loaded.
_SPEC_PATCHED = frozenset({"creditNoteResult.address"})


@dataclass(frozen=True)
class ContractViolation:
    operation: str
    direction: str  # "request" | "response"
    message: str
    method: str = ""
    path: str = ""
    status: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "operation": self.operation,
            "direction": self.direction,
            "message": self.message,
            "method": self.method,
            "path": self.path,
            "status": self.status,
        }


@dataclass
class ContractCheck:
    covered: bool
    operation: str
    violations: list[ContractViolation] = field(default_factory=list)
    exempted: list[ContractViolation] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.violations


def _stringify_keys(node: Any) -> Any:
    if isinstance(node, dict):
        return {str(key): _stringify_keys(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_stringify_keys(value) for value in node]
    return node


def _apply_patches(spec: dict[str, Any]) -> dict[str, Any]:
    schemas = spec["components"]["schemas"]
    credit_note = schemas["creditNoteResult"]
    credit_note["required"] = [name for name in credit_note["required"] if name != "address"]
    return spec


class FikenContract:
    def __init__(self, spec_path: Path = CONTRACT_PATH) -> None:
        raw = _stringify_keys(yaml.safe_load(spec_path.read_text(encoding="utf-8")))
        self.raw_spec: dict[str, Any] = copy.deepcopy(raw)
        self.spec = _apply_patches(raw)
        self._openapi = OpenAPI.from_dict(self.spec)
        self._lock = threading.Lock()
        self._routes = self._compile_routes()

    # -- routing --------------------------------------------------------------------------------

    def _compile_routes(self) -> list[tuple[re.Pattern[str], str, int]]:
        routes = []
        for template in self.spec["paths"]:
            pattern = re.sub(r"\\{[^}]+\\}", "[^/]+", re.escape(template))
            routes.append((re.compile(f"^{pattern}$"), template, template.count("{")))
        # Literal segments win over parameters: /invoices/counter before /invoices/{invoiceId}.
        routes.sort(key=lambda route: route[2])
        return routes

    def route(self, api_path: str) -> str | None:
        """The spec's path template for a path below ``/api/v2``."""
        for pattern, template, _ in self._routes:
            if pattern.match(api_path):
                return template
        return None

    def operation(self, method: str, api_path: str) -> tuple[str | None, dict[str, Any] | None]:
        template = self.route(api_path)
        if template is None:
            return None, None
        operation = self.spec["paths"][template].get(method.lower())
        return template, operation

    def operation_name(self, method: str, url: str) -> str:
        api_path = _api_path(url)
        if api_path is None:
            return f"{method.upper()} {urlsplit(url).path}"
        template, operation = self.operation(method, api_path)
        if operation is not None:
            return str(operation.get("operationId") or f"{method.upper()} {template}")
        return f"{method.upper()} {template or api_path}"

    # -- checks ---------------------------------------------------------------------------------

    def check_request(self, method: str, url: str, headers: dict[str, str], body: bytes) -> ContractCheck:
        api_path = _api_path(url)
        name = self.operation_name(method, url)
        if api_path is None:
            return ContractCheck(covered=False, operation=name)
        check = ContractCheck(covered=True, operation=name)
        split = urlsplit(url)

        def add(message: str, exemption: str | None = None) -> None:
            violation = ContractViolation(name, "request", message, method.upper(), split.path)
            (check.exempted if exemption else check.violations).append(violation)

        content_type = _header(headers, "Content-Type") or ""
        request = MockRequest(
            SPEC_SERVER,
            method.lower(),
            split.path,
            args=_multi_query(split.query),
            headers=dict(headers),
            data=body or b"",
            content_type=content_type if body else (content_type or "application/json"),
        )
        with self._lock, warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "Unsupported scheme type": see exemption oauth2-security
            try:
                self._openapi.validate_request(request)
            except Exception as exc:
                for message in _messages(exc):
                    add(message, "readOnly-in-request" if "read-only property" in message else None)
        template, operation = self.operation(method, api_path)
        if operation is not None and body and "json" in content_type.lower():
            schema = _json_body_schema(operation)
            try:
                payload = json.loads(body)
            except ValueError:
                payload = None
            if schema is not None and payload is not None:
                for field_path in _unexpected_fields(self.spec, schema, payload, ""):
                    add(f"{field_path}: unexpected field (not in the {_schema_name(schema)} schema)")
        return check

    def check_response(
        self, method: str, url: str, status: int, headers: dict[str, str], body: bytes
    ) -> ContractCheck:
        api_path = _api_path(url)
        name = self.operation_name(method, url)
        if api_path is None:
            return ContractCheck(covered=False, operation=name)
        check = ContractCheck(covered=True, operation=name)
        split = urlsplit(url)

        def add(message: str, exemption: str | None = None) -> None:
            violation = ContractViolation(name, "response", message, method.upper(), split.path, status)
            (check.exempted if exemption else check.violations).append(violation)

        template, operation = self.operation(method, api_path)
        if operation is None:
            return check  # the request side already reported the unknown path/operation
        documented = str(status) in operation.get("responses", {})
        if status >= 400 and not documented:
            problem = _error_shape_problem(body)
            if problem:
                add(f"HTTP {status}: {problem}")
            else:
                add(f"HTTP {status} is not documented for this operation", "undocumented-error-status")
            return check
        content_type = _header(headers, "Content-Type") or ""
        request = MockRequest(SPEC_SERVER, method.lower(), split.path, args=_multi_query(split.query))
        response = MockResponse(
            body or b"", status_code=status, headers=dict(headers), content_type=content_type
        )
        with self._lock, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                self._openapi.validate_response(request, response)
            except Exception as exc:
                for message in _messages(exc):
                    add(message)
        if 200 <= status < 300 and method.upper() in ("POST", "PUT", "PATCH") and documented:
            declared = operation["responses"][str(status)].get("headers", {})
            if "Location" in declared and not _header(headers, "Location"):
                add("Location header missing")
        return check


@lru_cache(maxsize=4)
def load_contract(spec_path: Path = CONTRACT_PATH) -> FikenContract:
    return FikenContract(spec_path)


# -- helpers ---------------------------------------------------------------------------------------


def _api_path(url: str) -> str | None:
    path = urlsplit(url).path
    if path == API_PREFIX or path.startswith(API_PREFIX + "/"):
        return path[len(API_PREFIX) :] or "/"
    return None


def _header(headers: dict[str, str], name: str) -> str | None:
    wanted = name.lower()
    return next((value for key, value in headers.items() if key.lower() == wanted), None)


def _multi_query(query: str) -> Any:
    from werkzeug.datastructures import ImmutableMultiDict

    return ImmutableMultiDict(
        [(k, v) for k, values in parse_qs(query, keep_blank_values=True).items() for v in values]
    )


def _messages(exc: BaseException) -> list[str]:
    """Readable lines for an openapi-core error, one per JSON-schema error when there are some."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        schema_errors = getattr(current, "schema_errors", None)
        if schema_errors:
            lines = []
            # Body errors are named by their field path; parameter errors by openapi-core's text.
            label = "" if "body" in str(exc).lower() else str(exc)
            for error in schema_errors:
                where = "/".join(str(part) for part in error.absolute_path)
                lines.append(f"{' '.join(p for p in (label, where) if p) or 'body'}: {error.message}")
            return lines
        current = current.__cause__ or current.__context__
    cause = exc.__cause__
    text = f"{exc}" + (f" ({cause})" if cause is not None and str(cause) not in str(exc) else "")
    return [text]


def _json_body_schema(operation: dict[str, Any]) -> dict[str, Any] | None:
    content = operation.get("requestBody", {}).get("content", {})
    return content.get("application/json", {}).get("schema")


def _schema_name(schema: dict[str, Any]) -> str:
    ref = schema.get("$ref", "")
    return ref.rsplit("/", 1)[-1] if ref else "request"


def _resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        node: Any = spec
        for part in schema["$ref"].lstrip("#/").split("/"):
            node = node[part]
        schema = node
    return schema


def _properties(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any] | None:
    """Declared properties of an object schema (allOf merged); ``None`` when any name is allowed."""
    schema = _resolve(spec, schema)
    if schema.get("additionalProperties") not in (None, False):
        return None
    if "allOf" in schema:
        merged: dict[str, Any] = {}
        for part in schema["allOf"]:
            properties = _properties(spec, part)
            if properties is None:
                return None
            merged.update(properties)
        return merged
    if "oneOf" in schema or "anyOf" in schema:
        return None
    # A name the schema requires is expected even where it defines no property for it
    # (saleRequest requires ``paid`` and defines none): sending it follows the spec to the letter.
    required = {name: {} for name in schema.get("required", []) if name not in schema.get("properties", {})}
    return {**required, **schema.get("properties", {})}


def _unexpected_fields(spec: dict[str, Any], schema: dict[str, Any], value: Any, where: str) -> list[str]:
    schema = _resolve(spec, schema)
    found: list[str] = []
    if isinstance(value, list) and "items" in schema:
        for index, item in enumerate(value):
            found += _unexpected_fields(spec, schema["items"], item, f"{where}/{index}")
    elif isinstance(value, dict) and (
        schema.get("type") == "object" or "properties" in schema or "allOf" in schema
    ):
        properties = _properties(spec, schema)
        if properties is None:
            return found
        for name, item in value.items():
            if name not in properties:
                found.append(f"{where}/{name}".lstrip("/"))
            else:
                found += _unexpected_fields(spec, properties[name], item, f"{where}/{name}")
    return found


def _error_shape_problem(body: bytes) -> str | None:
    """What is wrong with an error body, measured against Fiken's ``{"message": ...}`` shape."""
    try:
        payload = json.loads(body)
    except ValueError:
        return "error body is not JSON"
    if isinstance(payload, dict) and isinstance(payload.get("message"), str):
        return None
    if isinstance(payload, dict) and isinstance(payload.get("error"), str):
        return None
    return "error body lacks a string `message`"
