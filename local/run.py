"""`make run` / `make demo`: the whole pipeline on this machine, no AWS account, no credentials.

Starts the Fiken and Moment emulators and the local stack (moto + HTTP API + FIFO poller) wired to
them, creates a demo tenant, connects it to the emulated Fiken through the real OAuth flow, creates
a customer, a project and an invoice in the emulated Moment and sends Moment's webhooks for them,
waits until they are processed, and prints what arrived in Fiken and the transfer log. Beside it, a
second tenant ("demo-sb1") transfers the same kind of records to the SpareBank 1 Regnskap emulator.

`make run` then keeps serving (Ctrl-C stops it); `make demo` (``--demo``) exits 0 only if every demo
record arrived in the emulated Fiken, correct to the øre.

Targeting real systems instead: every base URL is a setting. ``MOMENTSYNC_MOMENT_API_BASE_URL`` /
``MOMENTSYNC_FIKEN_API_BASE_URL`` / ``MOMENTSYNC_FIKEN_OAUTH_BASE_URL`` replace the emulators (e.g. a
Moment sandbox and a Fiken test company); the Fiken app's client id/secret then come from
``MOMENTSYNC_FIKEN_CLIENT_ID`` / ``MOMENTSYNC_FIKEN_CLIENT_SECRET``, and the tenant is connected by
opening the printed connect link in a browser.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from emulators.fiken import FikenEmulator
from emulators.moment.emulator import MomentEmulator
from emulators.moment.fixtures import make_line
from emulators.moment.webhook_driver import MomentWebhookDriver
from emulators.sparebank1 import SpareBank1Emulator
from local import persistence
from local.connect_browser import open_connect_link
from local.stack import STATE_FILE, LocalStack, LocalStackConfig
from momentsync.aws.credentials import SecretsManagerCredentialsStore
from momentsync.aws.one_time_tokens import DynamoOneTimeTokens
from momentsync.aws.tenants import DynamoTenantRepository
from momentsync.aws.transfer_log import DynamoTransferLog
from momentsync.connect.links import create_connect_link
from momentsync.onboarding import add_tenant
from momentsync.tenants import TargetSystem

DEMO_TENANT = "demo"
DEMO_FIKEN_COMPANY = "demo-as"
DEMO_MOMENT_COMPANY = "demo"
DEMO_MOMENT_KEY = "local-demo-moment-key"
LOCAL_CLIENT_ID = "momentsync-local"
LOCAL_CLIENT_SECRET = "local-client-secret"  # noqa: S105 - the emulator's own, not a real credential
SB1_TENANT = "demo-sb1"
SB1_MOMENT_COMPANY = "demo-sb1"
SB1_MOMENT_KEY = "local-demo-sb1-moment-key"
# Like Lambda, each invocation in its own process (local.workers), one per core. Started before the
# stack serves: a worker started on demand on a loaded machine took over 30 s, past the connect
# flow's browser timeout (make demo failed that way at load 45).
WORKERS = 2


class Demo:
    def __init__(
        self, *, port: int, verbose: bool, restore: persistence.Snapshot | None = None, workers: int = WORKERS
    ) -> None:
        # A restored stack's records (the SpareBank 1 tenant's bank URL, tokens' audiences) name the
        # emulators' earlier ports: they are reused.
        ports = restore.demo.get("ports", {}) if restore else {}
        self.fiken = FikenEmulator(port=ports.get("fiken", 0))
        self.moment = MomentEmulator(port=ports.get("moment", 0))
        self.sb1 = SpareBank1Emulator(port=ports.get("sparebank1", 0))
        self.fiken.start()
        self.moment.start()
        self.sb1.start()
        self.sb1_company_key = restore.demo.get("sb1_company_key", "") if restore else ""
        parameters = {
            "MomentApiBaseUrl": os.environ.get("MOMENTSYNC_MOMENT_API_BASE_URL", self.moment.api_base_url),
            "FikenApiBaseUrl": os.environ.get("MOMENTSYNC_FIKEN_API_BASE_URL", self.fiken.api_base_url),
            "FikenOAuthBaseUrl": os.environ.get("MOMENTSYNC_FIKEN_OAUTH_BASE_URL", self.fiken.base_url),
        }
        self.stack = LocalStack(
            LocalStackConfig(
                http_port=port,
                state_file=Path(os.environ.get("MOMENTSYNC_LOCAL_STATE", STATE_FILE)),
                parameters=parameters,
                log_level=None if verbose else "WARNING",
                workers=workers,
                warm_workers=True,
            )
        ).start(restore=restore)
        self.aws = self.stack.aws
        assert self.aws
        if restore is not None:
            persistence.restore_emulators(restore, self.emulators)

    @property
    def emulators(self) -> dict:
        return {"fiken": self.fiken, "moment": self.moment, "sparebank1": self.sb1}

    def ports(self) -> dict[str, int]:
        return {name: urlsplit(emulator.base_url).port or 0 for name, emulator in self.emulators.items()}

    def save(self, demo: dict) -> None:
        persistence.save(persistence.take(self.stack, self.emulators, {**demo, "ports": self.ports()}))

    def table(self, variable: str):
        return self.aws.resource("dynamodb").Table(self.stack.environment[variable])

    def stop(self) -> None:
        self.stack.stop()
        self.moment.stop()
        self.fiken.stop()
        self.sb1.stop()

    # ------------------------------------------------------------------ setup
    def register_fiken_app(self) -> None:
        client_id = os.environ.get("MOMENTSYNC_FIKEN_CLIENT_ID", LOCAL_CLIENT_ID)
        client_secret = os.environ.get("MOMENTSYNC_FIKEN_CLIENT_SECRET", LOCAL_CLIENT_SECRET)
        self.fiken.register_client(
            client_id, client_secret, [f"{self.stack.webhook_base_url}/oauth/fiken/callback"]
        )
        self.aws.client("secretsmanager").put_secret_value(
            SecretId=self.stack.environment["FIKEN_APP_SECRET_ID"],
            SecretString=json.dumps({"client_id": client_id, "client_secret": client_secret}),
        )

    def create_tenant(self) -> str:
        company = self.fiken.add_company(DEMO_FIKEN_COMPANY, "Demo AS")
        self.fiken.set_consent(companies=[DEMO_FIKEN_COMPANY])
        self.moment.add_api_key(DEMO_MOMENT_COMPANY, DEMO_MOMENT_KEY)
        _tenant, url = add_tenant(
            tenants=DynamoTenantRepository(self.table("TENANTS_TABLE")),
            credentials=SecretsManagerCredentialsStore(
                self.aws.client("secretsmanager"), self.stack.environment["CREDENTIALS_SECRET_PREFIX"]
            ),
            webhook_base_url=self.stack.webhook_base_url,
            tenant_id=DEMO_TENANT,
            name="Demo AS",
            organization_number=company.organization_number,  # the link links only this company
            target=TargetSystem.FIKEN,
            moment_company_code=DEMO_MOMENT_COMPANY,
            moment_api_key=DEMO_MOMENT_KEY,
            notification_emails=["ops@demo.invalid"],
        )
        return url.url

    def create_sb1_tenant(self) -> str:
        """A SpareBank 1 tenant: the app registered with a fresh key, activated for a new company."""
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa

        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        public = key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        private = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()
        self.sb1.register_app(LOCAL_CLIENT_ID, public)
        self.aws.client("secretsmanager").put_secret_value(
            SecretId=self.stack.environment["SPAREBANK1_APP_SECRET_ID"],
            SecretString=json.dumps({"client_id": LOCAL_CLIENT_ID, "private_key_pem": private}),
        )
        company = self.sb1.add_company("Demo Regnskap AS")
        self.sb1.seed_account(company.key, 3030, "Salgsinntekt, avgiftspliktig, middels sats", "31")
        self.sb1.activate_app_for_company(LOCAL_CLIENT_ID, company.key)
        self.sb1_company_key = company.key
        self.moment.add_api_key(SB1_MOMENT_COMPANY, SB1_MOMENT_KEY)
        _tenant, url = add_tenant(
            tenants=DynamoTenantRepository(self.table("TENANTS_TABLE")),
            credentials=SecretsManagerCredentialsStore(
                self.aws.client("secretsmanager"), self.stack.environment["CREDENTIALS_SECRET_PREFIX"]
            ),
            webhook_base_url=self.stack.webhook_base_url,
            tenant_id=SB1_TENANT,
            name="Demo Regnskap AS",
            target=TargetSystem.SPAREBANK1,
            moment_company_code=SB1_MOMENT_COMPANY,
            moment_api_key=SB1_MOMENT_KEY,
            sparebank1_bank=self.sb1.base_url,  # the hosts table's escape hatch for a local emulator
            sparebank1_company_key=company.key,
            notification_emails=["ops@demo.invalid"],
        )
        return url.url

    def check_sb1(self, records: dict) -> list[str]:
        """What is missing or wrong in the emulated SpareBank 1 Regnskap (empty: all arrived)."""
        key, problems = self.sb1_company_key, []
        if [c["CustomerNumber"] for c in self.sb1.records(key, "customers")] != [100001]:
            problems.append("SpareBank 1: expected customer 100001")
        if [p["ProjectNumber"] for p in self.sb1.records(key, "projects")] != [
            records["project"].project_number
        ]:
            problems.append(f"SpareBank 1: expected project {records['project'].project_number}")
        entries = self.sb1.records(key, "journalentries")
        receivable = [line for line in self.sb1.records(key, "journalentrylines") if line.get("SubAccountID")]
        gross = sum(round(Decimal(str(line["Amount"])) * 100) for line in receivable)
        if len(entries) != 1 or gross != records["invoice"].total_incl_vat_ore:
            problems.append(
                f"SpareBank 1: expected one voucher of {records['invoice'].total_incl_vat_ore} øre"
            )
        return problems

    def report_sb1(self) -> None:
        print("\nIn the emulated SpareBank 1 Regnskap:")
        key = self.sb1_company_key
        for customer in self.sb1.records(key, "customers", "Info"):
            print(f"  customer {customer['ID']}: {customer['CustomerNumber']} {customer['Info']['Name']}")
        for project in self.sb1.records(key, "projects"):
            print(
                f"  project  {project['ID']}: {project['ProjectNumber']} {project['Name']} "
                f"(status {project['StatusCode']})"
            )
        for entry in self.sb1.records(key, "journalentries"):
            lines = [
                li for li in self.sb1.records(key, "journalentrylines") if li["JournalEntryID"] == entry["ID"]
            ]
            print(f"  voucher  {entry['JournalEntryNumber']}: {entry['Description']}, {len(lines)} lines")

    def connect_link(self) -> str:
        return create_connect_link(
            DynamoOneTimeTokens(self.table("AUTH_TABLE")),
            base_url=self.stack.webhook_base_url,
            tenant_id=DEMO_TENANT,
            ttl=timedelta(hours=1),
        ).url

    def connect(self) -> bool:
        """The OAuth flow as the tenant's browser walks it: link, continue, Fiken consent, callback."""
        with httpx.Client(follow_redirects=True, timeout=30) as browser:
            page = open_connect_link(browser, self.connect_link())
        return page.status_code == 200 and "Connected to Fiken" in page.text

    # ------------------------------------------------------------------ the demo records
    def send_records(self, webhook_url: str, company: str = DEMO_MOMENT_COMPANY, **customer_fields) -> dict:
        with MomentWebhookDriver(self.moment, company, webhook_url, raise_on_error=True) as driver:
            customer = driver.create_customer(
                **customer_fields,
                name="Fjordkraft Rådgivning AS",
                organization_number="912345670",
                email="faktura@fjordkraft.example",
                street="Strandkaien 2",
                post_code="5013",
                city="Bergen",
                country_code="NO",
            )
            project = driver.create_project(
                name="Nytt regnskapssystem", customer=customer.id, start_date=date(2026, 11, 2)
            )
            invoice = driver.finalize_invoice(
                customer=customer.id,
                project=project.id,
                invoice_date=date(2026, 11, 23),
                due_date=date(2026, 12, 7),
                lines=[
                    make_line("3000", Decimal("7.5"), Decimal("1250.00"), description="Rådgivning, timer"),
                    make_line("3000", 2, Decimal("1250.00"), description="Workshop", discount_percent=10),
                    make_line("3030", 3, Decimal("189.90"), description="Kurslitteratur"),
                ],
            )
        return {"customer": customer, "project": project, "invoice": invoice}

    def check(self, records: dict) -> list[str]:
        """What is missing or wrong in the emulated Fiken (empty: all arrived)."""
        problems = []
        contacts = self.fiken.contacts(DEMO_FIKEN_COMPANY)
        if [c.get("memberNumberString") for c in contacts] != [records["customer"].customer_number]:
            problems.append(f"expected one contact for customer {records['customer'].customer_number}")
        projects = self.fiken.projects(DEMO_FIKEN_COMPANY)
        if [p.get("number") for p in projects] != [records["project"].project_number]:
            problems.append(f"expected project {records['project'].project_number}")
        invoices = self.fiken.invoices(DEMO_FIKEN_COMPANY)
        invoice = records["invoice"]
        if len(invoices) != 1:
            problems.append(f"expected one invoice, found {len(invoices)}")
        elif (
            invoices[0]["gross"] != invoice.total_incl_vat_ore or invoices[0]["vat"] != invoice.total_vat_ore
        ):
            problems.append(
                f"invoice totals differ: Fiken {invoices[0]['gross']} øre, "
                f"Moment {invoice.total_incl_vat_ore} øre"
            )
        elif not [
            a
            for a in self.fiken.attachments(DEMO_FIKEN_COMPANY)
            if a["owner"] == "invoice"
            and a["ownerId"] == invoices[0]["invoiceId"]
            and a["content"].startswith(b"%PDF-")
        ]:
            problems.append("the invoice PDF was not attached")
        return problems

    def report(self) -> None:
        print("\nIn the emulated Fiken:")
        for contact in self.fiken.contacts(DEMO_FIKEN_COMPANY):
            print(
                f"  contact  {contact['contactId']}: {contact['name']} "
                f"(customer no. {contact['customerNumber']}, "
                f"Moment no. {contact.get('memberNumberString')})"
            )
        for project in self.fiken.projects(DEMO_FIKEN_COMPANY):
            print(f"  project  {project['projectId']}: {project['number']} {project['name']}")
        for invoice in self.fiken.invoices(DEMO_FIKEN_COMPANY):
            print(
                f"  invoice  {invoice['invoiceId']}: no. {invoice['invoiceNumber']} "
                f"(Moment {invoice.get('orderReference')}),"
                f" net {invoice['net']} + VAT {invoice['vat']} = {invoice['gross']} øre,"
                f" lines {len(invoice['lines'])}"
            )
        print("\nTransfer log:")
        log = DynamoTransferLog(self.table("TRANSFER_LOG_TABLE"), timedelta(days=1))
        for entry in log.query(DEMO_TENANT, newest_first=False):
            print(
                f"  {entry.logged_at:%H:%M:%S} {entry.entity_type:<8} {entry.entity_id:<10} "
                f"{entry.outcome.value:<9} "
                f"calls={entry.remote_calls:<2} {entry.duration_ms} ms {entry.reason or ''}"
            )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--demo", action="store_true", help="run the demo, check it, and exit")
    parser.add_argument("--port", type=int, default=3000, help="local HTTP API port (0: any free port)")
    parser.add_argument("--verbose", action="store_true", help="show the functions' INFO logs")
    parser.add_argument(
        "--workers",
        type=int,
        default=WORKERS,
        help=f"worker processes the functions run in, one invocation each at a time (default {WORKERS}; "
        "0: all in this process)",
    )
    parser.add_argument(
        "--fresh", action="store_true", help=f"forget the saved state ({STATE_NOTE}) and start empty"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")

    snapshot = None
    if not args.demo and not args.fresh:
        try:
            snapshot = persistence.load()
        except persistence.SnapshotUnusable as exc:
            print(f"{exc}: starting fresh (it is replaced on exit)")
    if snapshot is not None:
        return serve_restored(snapshot, port=args.port, verbose=args.verbose, workers=args.workers)
    demo = Demo(port=0 if args.demo else args.port, verbose=args.verbose, workers=args.workers)
    try:
        demo.register_fiken_app()
        webhook_url = demo.create_tenant()
        sb1_webhook_url = demo.create_sb1_tenant()
        print(f"local HTTP API:       {demo.stack.webhook_base_url}")
        print(f"embedded AWS (moto):  {demo.aws.endpoint_url}")
        print(f"Fiken emulator:       {demo.fiken.api_base_url}")
        print(f"Moment emulator:      {demo.moment.api_base_url}")
        if os.environ.get("MOMENTSYNC_FIKEN_OAUTH_BASE_URL"):
            # A real Fiken: a person approves the app; open the link, then send webhooks from Moment.
            print(f"connect the demo tenant to Fiken by opening: {demo.connect_link()}")
            connected = False
        else:
            connected = demo.connect()
            print(f"demo tenant connected to the emulated Fiken through OAuth: {connected}")
        records = demo.send_records(webhook_url)
        # SpareBank 1 wants customer numbers within 100000-199999 (Moment's rule for that integration).
        sb1_records = demo.send_records(sb1_webhook_url, SB1_MOMENT_COMPANY, customer_number="100001")
        processed = demo.stack.wait_until_idle(timeout=120)
        demo.report()
        demo.report_sb1()
        problems = demo.check(records) if connected and processed else ["not connected or not processed"]
        problems += demo.check_sb1(sb1_records)
        if args.demo:
            print("\nDEMO OK" if not problems else "\nDEMO FAILED: " + "; ".join(problems))
            return 0 if not problems else 1

        print("\nTry it (the webhook URL holds the tenant's secret; keep it private):")
        print(f"  webhook URL: {webhook_url}")
        print("  curl -X POST -H 'content-type: application/json' \\")
        print(f'    -d \'{{"event":"UPDATE","customer":{{"id":{records["customer"].id}}}}}\' {webhook_url}')
        print("  python -m emulators.moment.webhook_driver --url <the webhook URL above> customer-create")
        print("  .venv/bin/momentsync --local tenants show demo")
        saved = {"webhook_url": webhook_url, "sb1_webhook_url": sb1_webhook_url, "connected": connected}
        saved["sb1_company_key"] = demo.sb1_company_key
        serve(demo, saved)
        return 0
    finally:
        demo.stop()


STATE_NOTE = ".local-stack/state.pickle"
AUTOSAVE_SECONDS = float(os.environ.get("MOMENTSYNC_LOCAL_AUTOSAVE_SECONDS", "30"))


def serve(demo: Demo, saved: dict) -> None:
    """Serves until Ctrl-C, saving the state every 30 s (a kill -9 loses at most that) and on exit."""
    print(
        f"serving; Ctrl-C stops and keeps the state in {persistence.SNAPSHOT_FILE} "
        "(`make run RUN_ARGS=--fresh` forgets it)"
    )
    stopped = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stopped.set())
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    while not stopped.wait(AUTOSAVE_SECONDS):
        try:
            demo.save(saved)
        except Exception as exc:  # noqa: BLE001 - a busy moment (a dict changing mid-copy): next time
            logging.getLogger("momentsync.local").debug("autosave skipped: %s", type(exc).__name__)
    print("stopping: no more webhooks; letting the batches in flight finish ...")
    demo.stack.quiesce()
    try:
        demo.save(saved)
    except Exception as exc:  # noqa: BLE001 - say so; the last autosave (if any) is still on disk
        print(f"could not save the state ({type(exc).__name__}: {exc}); the last autosave is kept")
        return
    depth = demo.stack.queue_depth("EventQueue")
    print(
        f"state saved to {persistence.SNAPSHOT_FILE}: {depth} queued event(s), tenants, secrets, "
        "sync state, transfer log, parked events, dead letters and the emulators' records; "
        "`make run` resumes them"
    )


def serve_restored(
    snapshot: persistence.Snapshot, *, port: int, verbose: bool, workers: int = WORKERS
) -> int:
    """A restart of `make run`: the saved stack, emulators and demo tenants, processing what was queued."""
    try:
        demo = Demo(port=port, verbose=verbose, restore=snapshot, workers=workers)
    except persistence.SnapshotUnusable as exc:
        print(f"{exc}: run `make run RUN_ARGS=--fresh` to start empty")
        return 2
    try:
        saved = snapshot.demo
        print(f"restored the state saved at {snapshot.saved_at} ({persistence.SNAPSHOT_FILE})")
        print(f"local HTTP API:       {demo.stack.webhook_base_url}")
        print(f"embedded AWS (moto):  {demo.aws.endpoint_url}")
        print(f"Fiken emulator:       {demo.fiken.api_base_url}")
        print(f"Moment emulator:      {demo.moment.api_base_url}")
        demo.stack.wait_until_idle(timeout=60)
        demo.report()
        print("\nThe demo tenant's webhook URL is unchanged (it holds the tenant's secret; keep it private):")
        print(f"  webhook URL: {saved['webhook_url']}")
        print("  .venv/bin/momentsync --local status")
        serve(demo, saved)
        return 0
    finally:
        demo.stop()


if __name__ == "__main__":
    sys.exit(main())
