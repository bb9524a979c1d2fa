"""The verdict of a chaos run, from what Moment holds, what Fiken holds and what we recorded.

- Records: every Moment customer, project and invoice exists exactly once in the Fiken emulator,
  with Moment's latest values (invoices and credit notes: net, VAT and gross to the øre, due date);
  nothing in Fiken that Moment does not have.
- Events: every webhook the API accepted ended applied (a final outcome in the transfer log), itself
  or through the replay that an operator made of its dead letter; none is left parked.
- Logs: no token, secret or key appears in anything logged during the run.
"""

from __future__ import annotations

import base64
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from emulators.fiken import FikenEmulator
from emulators.moment.emulator import MomentEmulator
from momentsync.connectors.fiken.mapping import is_credit_note_text_of
from momentsync.moment.models import Customer, Invoice, Project
from momentsync.sync.transfer_log import Outcome, TransferLogEntry

FINAL = {Outcome.SYNCED, Outcome.UNCHANGED, Outcome.WAITING, Outcome.DELETED, Outcome.SKIPPED}


@dataclass
class RecordCheck:
    checked: Counter[str] = field(default_factory=Counter)  # by kind
    missing: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    wrong: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.missing or self.duplicates or self.wrong or self.unexpected)


def check_records(
    fiken: FikenEmulator, moment: MomentEmulator, slug: str, company: str, check: RecordCheck
) -> None:
    state = moment.state
    customers: list[Customer] = state.list(company, "customer")
    projects: list[Project] = state.list(company, "project")
    invoices: list[Invoice] = [i for i in state.list(company, "invoice") if i.transferable]
    where = f"{slug}"

    contacts = _by(fiken.contacts(slug), lambda c: c.get("memberNumberString"))
    for customer in customers:
        check.checked["customer"] += 1
        found = _one(
            check, contacts.pop(customer.customer_number, []), f"{where} customer {customer.customer_number}"
        )
        if found is None:
            continue
        expected = {
            "name": customer.name,
            "email": customer.invoice_email or customer.email,
            "organizationNumber": "".join(ch for ch in customer.organization_number or "" if ch.isdigit())
            or None,
            "street": customer.street,
        }
        actual = {**{k: found.get(k) for k in ("name", "email", "organizationNumber")}}
        actual["street"] = (found.get("address") or {}).get("streetAddress")
        _compare(check, f"{where} customer {customer.customer_number}", expected, actual)
    check.unexpected += [f"{where} contact {key}" for key, items in contacts.items() for _ in items]

    contact_ids = {c.get("memberNumberString"): c["contactId"] for c in fiken.contacts(slug)}
    numbers = {c.id: c.customer_number for c in customers}
    fiken_projects = _by(fiken.projects(slug), lambda p: p.get("number"))
    for project in projects:
        check.checked["project"] += 1
        label = f"{where} project {project.project_number}"
        matches = fiken_projects.pop(project.project_number, [])
        if project.start_date is None:  # Fiken needs one: the project waits, and must not exist yet
            check.unexpected += [label for _ in matches]
            continue
        found = _one(check, matches, label)
        if found is None:
            continue
        customer_number = numbers.get(project.customer.id) if project.customer else None
        expected = {
            "name": project.name,
            "startDate": project.start_date.isoformat(),
            "contactId": contact_ids.get(customer_number),
        }
        actual = {
            "name": found.get("name"),
            "startDate": found.get("startDate"),
            "contactId": (found.get("contact") or {}).get("contactId"),
        }
        _compare(check, label, expected, actual)
    check.unexpected += [f"{where} project {key}" for key, items in fiken_projects.items() for _ in items]

    fiken_invoices = _by(fiken.invoices(slug), lambda i: i.get("orderReference"))
    notes = fiken.credit_notes(slug)
    for invoice in invoices:
        number = str(invoice.invoice_number)
        if invoice.is_credit_note:
            check.checked["credit note"] += 1
            label = f"{where} credit note {number}"
            matches = [
                n
                for n in notes
                if n.get("orderReference") == number
                or is_credit_note_text_of(n.get("creditNoteText"), invoice.invoice_number)
            ]
            for match in matches:
                notes.remove(match)
            found = _one(check, matches, label)
            if found is not None:
                _compare(
                    check,
                    label,
                    _totals(invoice),
                    {
                        "net": -found["net"],
                        "vat": -found["vat"],
                        "gross": -found["gross"],
                        "rates": _rates(
                            (li.get("vatInPercent"), -li["net"], -li["vat"]) for li in found["lines"]
                        ),
                    },
                )
            continue
        check.checked["invoice"] += 1
        label = f"{where} invoice {number}"
        found = _one(check, fiken_invoices.pop(number, []), label)
        if found is not None:
            actual = {k: found.get(k) for k in ("net", "vat", "gross", "dueDate")}
            actual["rates"] = _rates((li.get("vatInPercent"), li["net"], li["vat"]) for li in found["lines"])
            _compare(check, label, {**_totals(invoice), "dueDate": invoice.due_date.isoformat()}, actual)
    check.unexpected += [f"{where} invoice {key}" for key, items in fiken_invoices.items() for _ in items]
    check.unexpected += [f"{where} credit note {n.get('creditNoteNumber')}" for n in notes]


def _totals(invoice: Invoice) -> dict[str, Any]:
    net, vat = invoice.total_excl_vat_ore, invoice.total_vat_ore
    rates = _rates((li.vat_percent, li.amount_excl_vat_ore, li.vat_amount_ore) for li in invoice.lines)
    return {"net": net, "vat": vat, "gross": net + vat, "rates": rates}


def _rates(lines: Iterable[tuple[Any, int, int]]) -> dict[str, list[int]]:
    """[net, VAT] per VAT rate (a right gross with a wrong split is wrong), zero rates left out."""
    rates: dict[str, list[int]] = {}
    for percent, net, vat in lines:
        key = format(Decimal(str(percent or 0)).normalize(), "f")
        rate = rates.setdefault(key, [0, 0])
        rate[0] += net
        rate[1] += vat
    return {key: value for key, value in rates.items() if value != [0, 0]}


def _by(items: Iterable[dict[str, Any]], key: Any) -> dict[Any, list[dict[str, Any]]]:
    grouped: dict[Any, list[dict[str, Any]]] = defaultdict(list)
    for item in items:
        grouped[key(item)].append(item)
    return grouped


def _one(check: RecordCheck, matches: list[dict[str, Any]], label: str) -> dict[str, Any] | None:
    if not matches:
        check.missing.append(label)
        return None
    if len(matches) > 1:
        check.duplicates.append(f"{label} ×{len(matches)}")
    return matches[0]


def _compare(check: RecordCheck, label: str, expected: dict[str, Any], actual: dict[str, Any]) -> None:
    differences = {k: (expected[k], actual.get(k)) for k in expected if expected[k] != actual.get(k)}
    if differences:
        check.wrong.append(
            f"{label}: " + ", ".join(f"{k} Moment {e!r} Fiken {a!r}" for k, (e, a) in differences.items())
        )


# ---------------------------------------------------------------------- events
@dataclass
class EventCheck:
    accepted: int = 0
    applied_directly: int = 0
    applied_after_resume: int = 0
    applied_after_replay: int = 0
    lost: list[str] = field(default_factory=list)
    outcomes: Counter[str] = field(default_factory=Counter)  # every transfer-log entry, by outcome
    lags: list[float] = field(default_factory=list)  # accepted -> applied, seconds, no operator involved
    max_lag_by_tenant: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.lost


def check_events(
    accepted: list[Any],
    logs: dict[str, list[TransferLogEntry]],
    replays: dict[str, list[str]],
    check: EventCheck,
) -> None:
    """``accepted``: what the webhook answered 202 to; ``replays``: dead event id -> its replays' ids."""
    by_event: dict[str, list[TransferLogEntry]] = defaultdict(list)
    for entries in logs.values():
        for entry in entries:
            by_event[entry.event_id].append(entry)
            check.outcomes[entry.outcome.value] += 1

    def applied(event_id: str, depth: int = 0) -> tuple[TransferLogEntry | None, str]:
        entries = sorted(by_event.get(event_id, []), key=lambda e: e.logged_at)
        final = next((e for e in entries if e.outcome in FINAL), None)
        if final is not None:
            return final, "resume" if final.origin == "resume" else "direct"
        for replay_id in replays.get(event_id, []) if depth < 5 else []:
            found, _how = applied(replay_id, depth + 1)
            if found is not None:
                return found, "replay"
        return None, "lost"

    for event in accepted:
        check.accepted += 1
        entry, how = applied(event.event_id)
        if entry is None:
            entries = sorted(by_event.get(event.event_id, []), key=lambda e: e.logged_at)
            last = f" ({entries[-1].reason})" if entries and entries[-1].reason else ""
            check.lost.append(
                f"{event.tenant_id} {event.kind} {event.record_id} event {event.event_id}: "
                f"{[e.outcome.value for e in entries]}{last}"
            )
            continue
        if how == "direct":
            check.applied_directly += 1
            lag = (entry.logged_at - _aware(event.accepted_at, entry.logged_at)).total_seconds()
            check.lags.append(lag)
            check.max_lag_by_tenant[event.tenant_id] = max(
                lag, check.max_lag_by_tenant.get(event.tenant_id, 0.0)
            )
        elif how == "resume":
            check.applied_after_resume += 1
        else:
            check.applied_after_replay += 1


def _aware(timestamp: float, like: datetime) -> datetime:
    return datetime.fromtimestamp(timestamp, tz=like.tzinfo)


# ---------------------------------------------------------------------- logs
def secrets_to_look_for(
    webhook_urls: Iterable[str], moment_keys: Iterable[str], tokens: Iterable[str], client_secret: str
) -> set[str]:
    found = {url.rsplit("/", 1)[1] for url in webhook_urls} | set(tokens) | {client_secret}
    for key in moment_keys:
        found |= {key, base64.b64encode(f"apikey:{key}".encode()).decode()}
    return {s for s in found if s}


def leaked(log_text: str, secrets: set[str]) -> list[str]:
    """The secrets that occur in the text, shortened so the report does not leak them again."""
    return sorted(s[:4] + "…" for s in secrets if s in log_text)
