"""Plays Moment's side of the webhooks: change a record in the emulator, then POST the thin notice.

Payloads mirror the one documented example (invoice finalized, docs/reference/moment.md §1.2)::

    {"event": "CREATE_NEW", "invoice": {"id": 106939080, "invoiceNumber": 1,
     "customer": {"id": 62788973, "customerNumber": "10001"},
     "project": {"id": 62788980, "projectNumber": "1"}}}

and, by analogy (GUESS), ``{"event": ..., "customer": {"id", "customerNumber"}}`` and
``{"event": ..., "project": {"id", "projectNumber", "customer": {...}}}``. Event names other than
``CREATE_NEW`` (``UPDATE``, ``DELETE``) are guesses too (``momentsync.moment.models.WebhookEvent``).
Sent like Moment presumably does: POST, ``Content-Type: application/json``, no signature.

From Python::

    driver = MomentWebhookDriver(emulator, "acme", webhook_url)
    customer = driver.create_customer(name="Fjordlys AS")     # CREATE_NEW customer
    driver.update_customer(customer.id, email="ny@fjordlys.no")  # UPDATE customer
    line = make_line("3000", 2, 1250, description="Timer")
    invoice = driver.finalize_invoice(customer=customer.id, lines=[line])   # CREATE_NEW invoice

From a shell (thin payloads only; ids default to the fixture records of ``--seed``)::

    python -m emulators.moment.webhook_driver --url URL customer-create --id 62788973 --number 10001
    python -m emulators.moment.webhook_driver --url URL invoice-finalize --id 106939080 --number 1
    # a seeded emulator, one notice per record, then serve the API for 60 s:
    python -m emulators.moment.webhook_driver --url URL demo --seed 7 --serve 60

The webhook URL carries the tenant's secret, so it is never printed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from emulators.moment.emulator import MomentEmulator
from emulators.moment.fixtures import build_dataset
from momentsync.moment.models import (
    WEBHOOK_EVENT_KEY,
    Customer,
    Invoice,
    Project,
    WebhookCustomerRef,
    WebhookEvent,
    WebhookInvoiceRef,
    WebhookNestedCustomer,
    WebhookNestedProject,
    WebhookProjectRef,
)

WEBHOOK_HEADERS = {
    "Content-Type": "application/json",
    "User-Agent": "Moment-Webhooks",
}  # GUESS: headers unknown


def _dump(model: Any) -> dict[str, Any]:
    return model.model_dump(by_alias=True, exclude_none=True)


def customer_webhook(customer: Customer, event: str = WebhookEvent.UPDATE) -> dict[str, Any]:
    ref = WebhookCustomerRef(id=customer.id, customer_number=customer.customer_number)
    return {WEBHOOK_EVENT_KEY: str(event), "customer": _dump(ref)}


def project_webhook(project: Project, event: str = WebhookEvent.UPDATE) -> dict[str, Any]:
    customer = project.customer
    ref = WebhookProjectRef(
        id=project.id,
        project_number=project.project_number,
        customer=WebhookNestedCustomer(id=customer.id, customer_number=customer.customer_number)
        if customer
        else None,
    )
    return {WEBHOOK_EVENT_KEY: str(event), "project": _dump(ref)}


def invoice_webhook(invoice: Invoice, event: str = WebhookEvent.CREATE_NEW) -> dict[str, Any]:
    project = invoice.project
    ref = WebhookInvoiceRef(
        id=invoice.id,
        invoice_number=invoice.invoice_number,
        customer=WebhookNestedCustomer(
            id=invoice.customer.id, customer_number=invoice.customer.customer_number
        ),
        project=WebhookNestedProject(id=project.id, project_number=project.project_number)
        if project
        else None,
    )
    return {WEBHOOK_EVENT_KEY: str(event), "invoice": _dump(ref)}


def ignored_webhook(kind: str, record_id: int, event: str = WebhookEvent.CREATE_NEW) -> dict[str, Any]:
    """An ``offer`` or ``claim`` notice: valid Moment traffic the connector ignores."""
    return {WEBHOOK_EVENT_KEY: str(event), kind: {"id": record_id}}


def webhook_for(record: Customer | Project | Invoice, event: str) -> dict[str, Any]:
    if isinstance(record, Customer):
        return customer_webhook(record, event)
    if isinstance(record, Project):
        return project_webhook(record, event)
    return invoice_webhook(record, event)


def post_webhook(
    url: str, payload: dict[str, Any], *, client: httpx.Client | None = None, timeout: float = 10.0
) -> httpx.Response:
    body = json.dumps(payload).encode()
    if client is not None:
        return client.post(url, content=body, headers=WEBHOOK_HEADERS)
    return httpx.post(url, content=body, headers=WEBHOOK_HEADERS, timeout=timeout)


@dataclass
class SentWebhook:
    payload: dict[str, Any]
    status: int | None
    error: str | None = None


@dataclass
class MomentWebhookDriver:
    """Changes records in ``emulator`` for ``company`` and notifies ``webhook_url`` as Moment would."""

    emulator: MomentEmulator
    company: str
    webhook_url: str
    timeout: float = 10.0
    # Moment's retry policy is unknown: by default a failed delivery is recorded, not retried.
    raise_on_error: bool = False
    sent: list[SentWebhook] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._http = httpx.Client(timeout=self.timeout)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> MomentWebhookDriver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def post(self, payload: dict[str, Any]) -> SentWebhook:
        try:
            response = post_webhook(self.webhook_url, payload, client=self._http)
            sent = SentWebhook(payload, response.status_code)
        except httpx.HTTPError as exc:
            if self.raise_on_error:
                raise
            sent = SentWebhook(payload, None, type(exc).__name__)
        self.sent.append(sent)
        if self.raise_on_error and (sent.status is None or sent.status >= 300):
            raise RuntimeError(f"webhook answered {sent.status}")
        return sent

    def notify(self, kind: str, record_id: int, event: str = WebhookEvent.UPDATE) -> SentWebhook:
        """Re-send the notice for an existing record (a duplicate or a late delivery)."""
        return self.post(webhook_for(self.emulator.get(self.company, kind, record_id), event))

    # -- customers ----------------------------------------------------------------------------------

    def create_customer(self, **fields: Any) -> Customer:
        customer = self.emulator.create_customer(self.company, **fields)
        self.post(customer_webhook(customer, WebhookEvent.CREATE_NEW))
        return customer

    def update_customer(self, customer_id: int, **changes: Any) -> Customer:
        customer = self.emulator.update_customer(self.company, customer_id, **changes)
        self.post(customer_webhook(customer, WebhookEvent.UPDATE))
        return customer

    def delete_customer(self, customer_id: int) -> Customer:
        customer = self.emulator.delete_customer(self.company, customer_id)
        self.post(customer_webhook(customer, WebhookEvent.DELETE))
        return customer

    # -- projects -----------------------------------------------------------------------------------

    def create_project(self, **fields: Any) -> Project:
        project = self.emulator.create_project(self.company, **fields)
        self.post(project_webhook(project, WebhookEvent.CREATE_NEW))
        return project

    def update_project(self, project_id: int, **changes: Any) -> Project:
        project = self.emulator.update_project(self.company, project_id, **changes)
        self.post(project_webhook(project, WebhookEvent.UPDATE))
        return project

    def delete_project(self, project_id: int) -> Project:
        project = self.emulator.delete_project(self.company, project_id)
        self.post(project_webhook(project, WebhookEvent.DELETE))
        return project

    # -- invoices -----------------------------------------------------------------------------------

    def finalize_invoice(self, invoice_id: int | None = None, **fields: Any) -> Invoice:
        """Finalize an existing draft, or create a finalized invoice from ``fields``; CREATE_NEW."""
        if invoice_id is not None:
            invoice = self.emulator.finalize_invoice(self.company, invoice_id)
        else:
            invoice = self.emulator.create_invoice(self.company, **fields)
        self.post(invoice_webhook(invoice, WebhookEvent.CREATE_NEW))
        return invoice

    def credit_invoice(self, invoice_id: int) -> Invoice:
        """A full credit note for the invoice, finalized: it arrives as a new invoice (INF)."""
        credit = self.emulator.credit_invoice(self.company, invoice_id)
        self.post(invoice_webhook(credit, WebhookEvent.CREATE_NEW))
        return credit

    def update_invoice(self, invoice_id: int, **changes: Any) -> Invoice:
        invoice = self.emulator.update_invoice(self.company, invoice_id, **changes)
        self.post(invoice_webhook(invoice, WebhookEvent.UPDATE))
        return invoice

    def send_ignored(self, kind: str, record_id: int) -> SentWebhook:
        return self.post(ignored_webhook(kind, record_id))


# -- command line -------------------------------------------------------------------------------------


def _thin_payload(args: argparse.Namespace) -> dict[str, Any]:
    data = build_dataset(args.seed)
    invoice = data.invoices[0]
    project = next(
        (p for p in data.projects if p.customer and p.customer.id == invoice.customer.id), data.projects[0]
    )
    customer = data.customer(project.customer.id) if project.customer else data.customers[0]
    customer_id = args.customer_id or customer.id
    customer_number = args.customer_number or customer.customer_number
    nested_customer = WebhookNestedCustomer(id=customer_id, customer_number=customer_number)
    event = args.event
    if args.command.startswith("customer-"):
        ref: Any = WebhookCustomerRef(
            id=args.id or customer_id, customer_number=args.number or customer_number
        )
        return {WEBHOOK_EVENT_KEY: event, "customer": _dump(ref)}
    if args.command.startswith("project-"):
        ref = WebhookProjectRef(
            id=args.id or project.id,
            project_number=args.number or project.project_number,
            customer=nested_customer,
        )
        return {WEBHOOK_EVENT_KEY: event, "project": _dump(ref)}
    if args.command == "invoice-finalize":
        nested_project = WebhookNestedProject(
            id=args.project_id or project.id, project_number=args.project_number or project.project_number
        )
        ref = WebhookInvoiceRef(
            id=args.id or invoice.id,
            invoice_number=int(args.number) if args.number else invoice.invoice_number,
            customer=nested_customer,
            project=None if args.no_project else nested_project,
        )
        return {WEBHOOK_EVENT_KEY: event, "invoice": _dump(ref)}
    return ignored_webhook(args.command, args.id or 5551234, event)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m emulators.moment.webhook_driver", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--url", required=True, help="the connector's webhook URL (never printed)")
    parser.add_argument("--seed", type=int, default=0, help="fixture seed for default ids and numbers")
    commands = parser.add_subparsers(dest="command", required=True)
    defaults = {
        "customer-create": WebhookEvent.CREATE_NEW,
        "customer-update": WebhookEvent.UPDATE,
        "project-create": WebhookEvent.CREATE_NEW,
        "project-update": WebhookEvent.UPDATE,
        "invoice-finalize": WebhookEvent.CREATE_NEW,
        "offer": WebhookEvent.CREATE_NEW,
        "claim": WebhookEvent.CREATE_NEW,
    }
    for name, event in defaults.items():
        sub = commands.add_parser(name, help=f"POST a thin {name} notice")
        sub.add_argument("--id", type=int, help="the record's Moment id")
        sub.add_argument("--number", help="customerNumber / projectNumber / invoiceNumber")
        sub.add_argument("--customer-id", type=int)
        sub.add_argument("--customer-number")
        sub.add_argument("--project-id", type=int)
        sub.add_argument("--project-number")
        sub.add_argument("--no-project", action="store_true", help="invoice without a project")
        sub.add_argument("--event", default=str(event), help=f"event name (default {event})")
        sub.add_argument("--seed", type=int, default=argparse.SUPPRESS, help="as the global --seed")
    demo = commands.add_parser("demo", help="start a seeded emulator and POST one notice per record")
    demo.add_argument("--seed", type=int, default=argparse.SUPPRESS, help="as the global --seed")
    demo.add_argument("--company", default="demo")
    demo.add_argument("--api-key", default="demo-key", help="the key the emulator accepts (apikey:<key>)")
    demo.add_argument("--serve", type=float, default=0.0, help="keep the emulator up this many seconds")
    return parser


def _report(sent: SentWebhook) -> None:
    print(f"{sent.status or sent.error}  {json.dumps(sent.payload, ensure_ascii=False)}")


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command != "demo":
        payload = _thin_payload(args)
        try:
            response = post_webhook(args.url, payload)
        except httpx.HTTPError as exc:
            print(f"delivery failed: {type(exc).__name__}", file=sys.stderr)
            return 1
        _report(SentWebhook(payload, response.status_code))
        return 0 if response.is_success else 1

    with MomentEmulator(seed=args.seed) as emulator:
        emulator.add_api_key(args.company, args.api_key)
        dataset = build_dataset(args.seed)
        emulator.load(args.company, dataset)
        print(f"Moment emulator: {emulator.api_base_url} (company {args.company}, key apikey:<--api-key>)")
        with MomentWebhookDriver(emulator, args.company, args.url) as driver:
            for record in dataset.records():
                event = WebhookEvent.CREATE_NEW if isinstance(record, Invoice) else WebhookEvent.UPDATE
                _report(driver.post(webhook_for(record, event)))
            failures = sum(1 for s in driver.sent if s.status is None or s.status >= 300)
        if args.serve > 0:
            print(f"serving for {args.serve:g} s (Ctrl-C stops)")
            with contextlib.suppress(KeyboardInterrupt):
                time.sleep(args.serve)
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
