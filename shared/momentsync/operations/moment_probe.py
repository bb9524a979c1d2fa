"""`momentsync tenants probe TENANT`: compare a tenant's live Moment JSON with our models, read-only.

Moment's field names are mostly guesses (``momentsync.moment.models``). The probe reads a few
records of each entity with the tenant's key (GETs only) and reports, per model field, whether
Moment sent it (under which of the accepted names), sent it empty, or never; the fields Moment sent
that no model knows (the candidates for a renamed guess); and what the product would do with each
sample (an invoice that would fail says why, naming the field). Values are masked before they are
shown or saved: letters become ``x``, digits ``0``; ids, numbers, booleans, dates and codes are kept,
so a saved sample still reads like Moment's and the emulator can serve it
(``MomentEmulator.load_samples``) as a fixture. A code is kept only under a key that names one
(state, status, type, code, currency, country, language, VAT, account number): elsewhere "ACME" or
"Ola" may be a name. Under a contact/personal key (phone, org number, KID, e-mail, postal code, bank
account, ...) every value is masked, a JSON number too (its length kept).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import AliasChoices, BaseModel, ValidationError

from momentsync.errors import SyncError
from momentsync.moment.client import FINANCIAL_ACCOUNTS, MomentClient
from momentsync.moment.field_drift import FLAT_INCLUDE_KEYS
from momentsync.moment.models import (
    FLAT_FORMS,
    Customer,
    FinancialAccountRef,
    Invoice,
    InvoiceLine,
    MomentFieldMissing,
    Project,
)

# Collection -> the model its records are read with.
PROBED: dict[str, type[BaseModel]] = {
    "customers": Customer,
    "projects": Project,
    "invoices": Invoice,
    FINANCIAL_ACCOUNTS: FinancialAccountRef,
}
PRESENT, EMPTY, NEVER = "present", "empty", "never seen"
_CODE = re.compile(r"^[A-Za-z_]{1,3}$|^[A-Z][A-Z_]+$|^[a-z]+([A-Z][a-z]+)+$|^\d{1,2}$")
_CODE_WORDS = re.compile(r"^[A-Za-z][\w .-]{0,39}$")  # "hours", "Do not transfer" (under a code key)
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$")


# Keys whose values are contact or personal data, whatever their shape (a phone or an org number,
# which for a private customer may be a personal number, often arrives as a JSON number).
_PERSONAL_KEY = re.compile(
    r"phone|fax|mobile|tele|orgn|orgno|organi[sz]ation|ssn|personal|birth|bank|iban|kid|ocr|paymentid|"
    r"zip|postcode|postalcode|mail"
)
# Keys whose short code-like values are states, types and codes (needed to judge a record); under any
# other key a value shaped like a code ("ACME", "Ola", "olaNordmann") may be a name.
_CODE_KEY = re.compile(r"state|status|type|code|currency|country|language|kind|unit|category|mode|vat|tax")


def _loose_key(key: str) -> str:
    return re.sub(r"[^a-z0-9]", "", key.lower())


def mask(value: Any, key: str = "") -> Any:
    """The value with personal/business text hidden, its shape kept (see the module docstring)."""
    if isinstance(value, dict):
        return {k: mask(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [mask(item, key) for item in value]
    loose = _loose_key(key)
    personal = bool(_PERSONAL_KEY.search(loose))
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int | Decimal | float):
        if not personal:
            return value  # ids, amounts
        digits = len(str(abs(int(value))))
        return 10 ** (digits - 1) if digits > 1 else 0  # the number's length kept, not its digits
    if not isinstance(value, str):
        return value
    if _DATE.match(value) and not personal:
        return value  # dates
    code_key = bool(_CODE_KEY.search(loose)) or loose.endswith("accountnumber")
    if code_key and not personal and (_CODE.match(value) or _CODE_WORDS.match(value)):
        return value  # states, currency and VAT codes, account numbers: needed to judge the record
    if loose.endswith("accountnumber") and value.isdigit() and not personal:
        return value
    return re.sub(r"\d", "0", re.sub(r"[^\W\d_]", "x", value))


@dataclass
class FieldSeen:
    name: str  # the name we read it by (our guess)
    status: str  # present / empty / never seen
    seen: int  # in how many samples it had a value
    as_names: list[str] = field(default_factory=list)  # the accepted names Moment actually used


@dataclass
class EntityProbe:
    collection: str
    samples: list[dict[str, Any]]
    fields: list[FieldSeen] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # what the product would do wrong/refuse
    error: str | None = None  # the list could not be read

    def as_dict(self) -> dict[str, Any]:
        return {
            "collection": self.collection,
            "samples": len(self.samples),
            "fields": [f.__dict__ for f in self.fields],
            "unknown": self.unknown,
            "problems": self.problems,
            "error": self.error,
        }


def accepted_names(model: type[BaseModel], name: str) -> list[str]:
    """Every key Moment may send the field under: its names, then the flat include forms."""
    info = model.model_fields[name]
    if isinstance(info.validation_alias, AliasChoices):
        names = [str(choice) for choice in info.validation_alias.choices]
    else:
        names = [info.alias or name]
    return names + [flat for flat in FLAT_FORMS.get(names[0], ()) if flat not in names]


def field_report(model: type[BaseModel], records: list[dict[str, Any]], prefix: str = "") -> list[FieldSeen]:
    report = []
    for name in model.model_fields:
        names = accepted_names(model, name)
        with_value = [r for r in records if any(r.get(n) is not None for n in names)]
        sent = [r for r in records if any(n in r for n in names)]
        used = sorted({n for r in sent for n in names if n in r})
        status = PRESENT if with_value else EMPTY if sent else NEVER
        report.append(FieldSeen(f"{prefix}{names[0]}", status, len(with_value), used))
    return report


def unknown_keys(model: type[BaseModel], records: list[dict[str, Any]], prefix: str = "") -> list[str]:
    known = {n for name in model.model_fields for n in accepted_names(model, name)} | set(model.model_fields)
    return sorted({f"{prefix}{key}" for r in records for key in r if key not in known | FLAT_INCLUDE_KEYS})


def judge(model: type[BaseModel], record: dict[str, Any], client: MomentClient | None = None) -> str | None:
    """What goes wrong with this record in the product, or ``None``."""
    try:
        parsed = model.model_validate(record)
    except ValidationError as exc:
        error = exc.errors(include_url=False, include_input=False)[0]
        return f"id {record.get('id')}: does not fit: {'.'.join(map(str, error['loc']))}: {error['msg']}"
    if isinstance(parsed, Invoice):
        try:
            if client is not None:
                # As the product reads it: lines naming their account by id completed (GETs only).
                parsed = client.with_accounts(parsed)
            reason = parsed.not_transferable_reason
        except MomentFieldMissing as exc:
            return f"id {record.get('id')}: would fail: {exc.reason}"
        if reason:
            return f"id {record.get('id')}: would be skipped: {reason}"
    return None


def probe_entity(client: MomentClient, collection: str, count: int) -> EntityProbe:
    model = PROBED[collection]
    try:
        raw = client.sample(collection, count)
    except SyncError as exc:
        return EntityProbe(collection, [], error=exc.reason)
    probe = EntityProbe(collection, [mask(record) for record in raw])
    probe.fields = field_report(model, raw)
    probe.unknown = unknown_keys(model, raw)
    if model is Invoice:
        lines = [line for r in raw for key in accepted_names(Invoice, "lines") for line in (r.get(key) or [])]
        lines = [line for line in lines if isinstance(line, dict)]
        probe.fields += field_report(InvoiceLine, lines, "invoiceLines[].")
        probe.unknown += unknown_keys(InvoiceLine, lines, "invoiceLines[].")
    probe.problems = [problem for record in raw if (problem := _judged(model, record, client))]
    return probe


def _judged(model: type[BaseModel], record: dict[str, Any], client: MomentClient) -> str | None:
    try:
        return judge(model, record, client)
    except SyncError as exc:  # financialAccounts unreadable: say so for the record, go on
        return f"id {record.get('id')}: cannot be judged: {exc.reason}"


def probe_tenant(client: MomentClient, count: int = 5) -> list[EntityProbe]:
    """Read-only: ``count`` records of each entity, compared with the models."""
    return [probe_entity(client, collection, count) for collection in PROBED]


def save_samples(probes: list[EntityProbe], directory: Path) -> list[Path]:
    """The masked samples as ``{collection}.json`` (what ``MomentEmulator.load_samples`` serves)."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for probe in probes:
        path = directory / f"{probe.collection}.json"
        path.write_text(json.dumps(probe.samples, indent=2, default=_json_default, ensure_ascii=False) + "\n")
        written.append(path)
    return written


def load_samples(directory: Path) -> dict[str, list[dict[str, Any]]]:
    """Samples saved by ``save_samples``, amounts read back as Decimal."""
    return {
        path.stem: json.loads(path.read_text(), parse_float=Decimal)
        for path in sorted(directory.glob("*.json"))
        if path.stem in PROBED
    }


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(f"cannot write {type(value).__name__}")
