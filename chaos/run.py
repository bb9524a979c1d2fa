"""A seeded chaos run through the whole local pipeline; ``make chaos`` (``python -m chaos.run``).

Tenants are connected, then senders play Moment (changes and webhooks, with duplicate, late and
reordered notices) while the nemesis misbehaves (chaos/nemesis.py) and its schedule expires
tokens, revokes and reconnects tenants, and plants poison invoices. Then the storm stops and an
operator does what the runbook says: fixes what the dead letters name (a VAT-code override, or the
invoice in Moment, which sends a newer event), replays the dead-letter queue with the CLI, and
checks that nothing stays parked. Finally chaos/check.py judges records, events and logs.

The workload and the fault draws are seeded (``--seed``, printed); thread scheduling is not, so two
runs with one seed make the same changes and similar, not identical, fault sequences.
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager, redirect_stdout
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from chaos.check import (
    EventCheck,
    RecordCheck,
    check_events,
    check_pdfs,
    check_records,
    leaked,
    secrets_to_look_for,
)
from chaos.nemesis import (
    CrashAfterFikenSuccess,
    FaultRates,
    attachment_answers_lost,
    fired_by_rule,
    install_attachment_faults,
    install_http_faults,
    install_one_of_each,
)
from chaos.workload import UNKNOWN_VAT_CODE, UNKNOWN_VAT_CODE_MEANS, Notice, TenantScript
from chaos.world import Accepted, ChaosWorld
from local.tenants import ConnectedTenant
from momentsync.aws.parking import DynamoParkedEvents
from momentsync.tenants import TenantStatus


@dataclass(frozen=True)
class ChaosConfig:
    seed: int = 20261123
    tenants: int = 50
    events_per_tenant: int = 200
    senders: int = 4
    revoked_tenants: int = 3
    poison_tenants: int = 4  # half fixed by a VAT-code override, half fixed in Moment
    token_expiries: int = 3  # Fiken ends every access token early, spread over the run
    burst_every: int = 500  # events between scripted 429 bursts (5 in a row on one tenant)
    wiped_tenants: int = 1  # sync state wiped mid-run, as after a restore
    # Removed and added again after the storm (sync state gone, Fiken keeps the books); the operator
    # then runs `momentsync backfill`, which must adopt what the books hold, not create it again.
    readded_tenants: int = 1
    # Removed and added again halfway through its own webhooks: the operator backfills it at once, its
    # later webhooks go to the new URL, and what was in flight for the old tenant must still converge.
    readded_during_storm: int = 1
    # Moving from Moment's own Fiken integration: before the storm, its books already hold records
    # with our natural keys and we hold no state; the operator's backfill must adopt them.
    migration_tenants: int = 1
    lost_last_changes: int = 1  # tenants whose last change (a new customer) never sends its webhook
    convergence_rounds: int = 6  # sweeps (each followed by a drain) at most, until one repairs nothing
    rates: FaultRates = field(default_factory=FaultRates)
    drain_timeout: float = 900.0


@dataclass
class ChaosReport:
    seed: int
    config: dict[str, Any]
    wall_seconds: float = 0.0
    phases: dict[str, float] = field(default_factory=dict)
    troubles: Counter[str] = field(default_factory=Counter)  # duplicate / late / reordered notices
    faults: dict[str, Any] = field(default_factory=dict)
    dead_letters: dict[str, Any] = field(default_factory=dict)
    reconnects: list[dict[str, Any]] = field(default_factory=list)
    records: RecordCheck = field(default_factory=RecordCheck)
    events: EventCheck = field(default_factory=EventCheck)
    rejected_webhooks: list[str] = field(default_factory=list)
    still_parked: int = 0
    still_dead: int = 0
    log_bytes: int = 0
    secrets_scanned: int = 0
    leaked: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # the run itself went wrong
    lost_before_ingest: int = 0  # notices never sent (webhooks lost on the way)
    webhook_answers_lost: int = 0  # sent, but the answer timed out (not known whether it was accepted)
    convergence: dict[str, Any] = field(default_factory=dict)
    # Per backfilled tenant (added again, after or during the storm; migrating): adopted and created.
    adoption: dict[str, Any] = field(default_factory=dict)
    # From the transfer log: invoices the processor found by natural key (adopted), and those created
    # without that lookup because the tenant's "state complete since" epoch proved it safe.
    invoices_adopted: int = 0
    lookups_skipped_by_epoch: int = 0
    # Per poisoned tenant: its poison invoice's transfer-log outcomes before the replay, in order.
    poison_paths: dict[str, list[str]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return (
            self.records.ok
            and self.events.ok
            and not self.rejected_webhooks
            and not self.still_parked
            and not self.still_dead
            and not self.leaked
            and not self.problems
        )


class ChaosRun:
    def __init__(
        self, world: ChaosWorld, config: ChaosConfig, *, say: Callable[[str], None] | None = None
    ) -> None:
        self.world, self.config = world, config
        self.say = say or (lambda _message: None)
        self.random = random.Random(config.seed)
        self.tag = uuid.uuid4().hex[:6]
        self.prefix = f"chaos-{self.tag}-"
        self.report = ChaosReport(seed=config.seed, config=_plain(config))
        self.accepted: list[Accepted] = []
        self._lock = threading.Lock()
        self._posted = 0
        self._next_expiry = 1
        self.tenants: list[ConnectedTenant] = []
        self.scripts: dict[str, TenantScript] = {}
        self._revoked_done: set[str] = set()
        self._reconnected: set[str] = set()
        self._losses = random.Random(config.seed + 3)
        self._wiped: dict[str, int] = {}
        self.current: dict[str, ConnectedTenant] = {}  # as now registered (a re-add changes the URL)
        self._readded_during: dict[str, int] = {}

    # ------------------------------------------------------------------ the run
    def run(self) -> ChaosReport:
        started = time.monotonic()
        config, world = self.config, self.world
        for index in range(config.tenants):
            tenant = world.factory.connected(
                f"{self.prefix}{index:03d}",
                f"cx{self.tag}{index:03d}",
                f"mx{self.tag}{index:03d}",
                name=f"Kaos {index} AS",
            )
            self.tenants.append(tenant)
            self.scripts[tenant.tenant_id] = TenantScript(
                world.moment, tenant.company, config.seed * 1_000 + index, config.events_per_tenant
            )
        chosen = self.random.sample(
            self.tenants, min(len(self.tenants), config.revoked_tenants + config.poison_tenants)
        )
        self.revoked = {t.tenant_id for t in chosen[: config.revoked_tenants]}
        healthy = [t.tenant_id for t in self.tenants if t not in chosen]
        self.to_wipe = set(healthy[: config.wiped_tenants])
        cut = config.wiped_tenants + config.readded_tenants
        self.to_readd = set(healthy[config.wiped_tenants : cut])
        self.to_readd_during = set(healthy[cut : cut + config.readded_during_storm])
        cut += config.readded_during_storm
        self.migrating = set(healthy[cut : cut + config.migration_tenants])
        wanted = cut + config.migration_tenants
        if len(healthy) < wanted:
            self.report.problems.append(
                f"{len(healthy)} tenants left for {wanted} wiped/re-added/migrating: add tenants"
            )
        self.current = {t.tenant_id: t for t in self.tenants}
        poisoned = chosen[config.revoked_tenants :]
        self.poison = {
            t.tenant_id: ("unknown_vat_code" if i % 2 == 0 else "no_vat_code") for i, t in enumerate(poisoned)
        }
        self.poison_invoices: dict[str, Any] = {}
        for tenant in self.tenants:
            if tenant.tenant_id not in self.migrating:
                world.state_complete_from_now(tenant)
        self._migrate()
        self.report.phases["setup"] = round(time.monotonic() - started, 1)
        self.say(
            f"seed {config.seed}: {config.tenants} tenants × {config.events_per_tenant} events; "
            f"revoked {len(self.revoked)}, poisoned {len(self.poison)}"
        )

        fiken_path, moment_path = f"/companies/cx{self.tag}", f"/mx{self.tag}"
        world.fiken.fault_plan.clear(seed=config.seed)
        world.moment.fault_plan.clear(seed=config.seed + 1)
        install_one_of_each(
            world.fiken.fault_plan, world.moment.fault_plan, fiken_path, moment_path, config.rates
        )
        install_attachment_faults(world.fiken.fault_plan, fiken_path, config.rates.attachment_lost_response)
        install_http_faults(
            world.fiken.fault_plan, world.moment.fault_plan, config.rates, fiken_path, moment_path
        )
        crashes = CrashAfterFikenSuccess(config.rates.processor_crash, config.seed + 2, self.prefix)
        rate_limited_before = world.fiken.rate_limited
        crashes.install()
        storm = time.monotonic()
        try:
            self._drive()
            self._lose_last_changes()
            self.report.phases["ingest"] = round(time.monotonic() - storm, 1)
            self.say("every event sent; waiting for the queue to drain")
            if not world.idle(config.drain_timeout):
                self.report.problems.append("the queue did not drain during the storm")
        finally:
            crashes.uninstall()
            self.report.faults |= {
                "fiken": dict(fired_by_rule(world.fiken.fault_plan)),
                "fiken_rate_rule_429": world.fiken.rate_limited - rate_limited_before,
                "moment": dict(fired_by_rule(world.moment.fault_plan)),
                "processor_crash_after_fiken_write": dict(crashes.fired),
                "token_expiries": self._next_expiry - 1,
                "revoked_consents": len(self.revoked),
                "attachment_answers_lost": attachment_answers_lost(world.fiken.fault_plan),
                "webhooks_lost_before_ingest": self.report.lost_before_ingest,
                "webhook_answers_lost": self.report.webhook_answers_lost,
                "sync_state_wiped": dict(self._wiped),
            }
            world.fiken.fault_plan.clear()
            world.moment.fault_plan.clear()
        for tenant_id in self.to_wipe:
            if not self._wiped.get(tenant_id):  # its state was still empty mid-run: lose it now
                self._wiped[tenant_id] = self.world.wipe_sync_state(tenant_id)
        self.report.faults["sync_state_wiped"] = dict(self._wiped)
        self._remove_and_add_again()
        self.report.phases["storm"] = round(time.monotonic() - storm, 1)

        operator = time.monotonic()
        self.say("the storm is over; the operator fixes, replays and checks")
        self._operate()
        self.report.phases["operator"] = round(time.monotonic() - operator, 1)

        converging = time.monotonic()
        self.say("the sweep runs until it repairs nothing")
        self._converge()
        self.report.phases["converge"] = round(time.monotonic() - converging, 1)

        checking = time.monotonic()
        self._check()
        self.report.phases["check"] = round(time.monotonic() - checking, 1)
        self.report.wall_seconds = round(time.monotonic() - started, 1)
        return self.report

    # ------------------------------------------------------------------ Moment, and the schedule
    def _drive(self) -> None:
        shares = [self.tenants[i :: self.config.senders] for i in range(self.config.senders)]
        errors: list[BaseException] = []

        def send(tenants: list[ConnectedTenant]) -> None:
            try:
                while any(not self.scripts[t.tenant_id].done for t in tenants):
                    for tenant in tenants:
                        if not self.scripts[tenant.tenant_id].done:
                            self._step(tenant)
            except BaseException as exc:  # noqa: BLE001 - reported; the other senders go on
                errors.append(exc)

        threads = [
            threading.Thread(target=send, args=(share,), name=f"chaos-sender-{i}")
            for i, share in enumerate(shares)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for exc in errors:
            self.report.problems.append(f"sender failed: {type(exc).__name__}: {exc}")

    def _lose_last_changes(self) -> None:
        """A change no later event covers: without the sweep it would never reach the books."""
        for tenant in self.tenants[: self.config.lost_last_changes]:
            self.world.moment.create_customer(tenant.company, name=f"Tapt webhook {tenant.tenant_id} AS")
            self.report.lost_before_ingest += 1

    def _step(self, tenant: ConnectedTenant) -> None:
        script, tenant_id = self.scripts[tenant.tenant_id], tenant.tenant_id
        events = self.config.events_per_tenant
        if (
            tenant_id in self.to_readd_during
            and script.sent >= events // 2
            and tenant_id not in self._readded_during
        ):
            self._readd_during_storm(tenant_id)
        if tenant_id in self.to_wipe and script.sent >= events // 2 and not self._wiped.get(tenant_id):
            # Counted once the tenant had state to lose (the queue may still be behind its webhooks).
            self._wiped[tenant_id] = self.world.wipe_sync_state(tenant_id)
        # Thresholds, not exact steps: one step may send two notices.
        if tenant_id in self.revoked and script.sent >= events // 4 and tenant_id not in self._revoked_done:
            self._revoked_done.add(tenant_id)
            self.world.fiken.revoke_consent(company=tenant.slug, whole_grant=True)
        elif (
            tenant_id in self._revoked_done
            and tenant_id not in self._reconnected
            and script.sent >= events // 4 + max(4, events // 10)
        ):
            self._reconnected.add(tenant_id)
            self._reconnect(tenant)
        if tenant_id in self.poison and script.sent >= events // 3 and tenant_id not in self.poison_invoices:
            invoice, notices = script.poison_invoice(self.poison[tenant_id])
            self.poison_invoices[tenant_id] = invoice
            self._send(tenant, notices, may_lose=False)  # the verdict counts on its dead letter
            return
        self._send(tenant, script.step())

    def _send(self, tenant: ConnectedTenant, notices: list[Notice], *, may_lose: bool = True) -> None:
        tenant = self.current.get(tenant.tenant_id, tenant)  # its webhook URL as now registered
        for notice in notices:
            with self._lock:
                lost = may_lose and self._losses.random() < self.config.rates.lost_webhook
                if lost:
                    self.report.lost_before_ingest += 1
            if lost:
                continue  # never reaches us: only the sweep can bring the change to the books
            try:
                event_id = self.world.post(tenant, notice.payload)
            except httpx.TimeoutException:
                # Our answer never reached "Moment" (an overloaded rig): accepted or not, Moment does
                # not resend, so the record must still converge (by its event or by the sweep).
                with self._lock:
                    self.report.webhook_answers_lost += 1
                continue
            except Exception as exc:  # noqa: BLE001 - a refused webhook is a finding, not a crash
                self.report.rejected_webhooks.append(
                    f"{tenant.tenant_id} {notice.kind} {notice.record_id}: {exc}"
                )
                continue
            with self._lock:
                self.accepted.append(
                    Accepted(tenant.tenant_id, event_id, notice.kind, notice.record_id, notice.trouble)
                )
                if notice.trouble:
                    self.report.troubles[notice.trouble] += 1
                self._posted += 1
                posted = self._posted
            self._on_progress(posted)

    def _on_progress(self, posted: int) -> None:
        total = self.config.tenants * self.config.events_per_tenant
        if posted % max(1, total // 10) == 0:
            self.say(
                f"{posted} of {total} events accepted; queue {self.world.stack.queue_depth('EventQueue')}"
            )
        if self.config.burst_every and posted % self.config.burst_every == 0:
            victim = self.random.choice(self.tenants)
            self.world.fiken.fault_plan.script(
                "status", times=5, path=f"/companies/{victim.slug}/", status=429
            )
        expiries = self.config.token_expiries
        if self._next_expiry <= expiries and posted >= total * self._next_expiry / (expiries + 1):
            self._next_expiry += 1
            self.world.fiken.expire_access_tokens()

    def _reconnect(self, tenant: ConnectedTenant) -> None:
        """Waits for the revocation to be noticed (events parking), then the user reconnects."""
        deadline = time.monotonic() + 60
        status = self.world.tenant(tenant.tenant_id).status
        while status is TenantStatus.ACTIVE and time.monotonic() < deadline:
            time.sleep(0.2)
            status = self.world.tenant(tenant.tenant_id).status
        parked = DynamoParkedEvents(self.world.table("PARKED_EVENTS_TABLE")).count(tenant.tenant_id)
        failures: list[str] = []
        page = ""
        for _attempt in range(3):  # the page says "try again": the operator sends a new link
            try:
                page = self.world.reconnect(tenant.tenant_id)
                break
            except RuntimeError as exc:
                failures.append(str(exc))
                time.sleep(2)
        else:
            self.report.problems.append(f"{tenant.tenant_id} could not reconnect: {failures}")
        self.report.reconnects.append(
            {
                "tenant_id": tenant.tenant_id,
                "status_before": status.value,
                "parked_before": parked,
                "page_says_resumed": "held transfer" in page,
                "failed_attempts": failures,
            }
        )

    def _remove_and_add_again(self) -> None:
        """The tenant leaves and comes back: no sync state, a new webhook URL, the same books."""
        readded: dict[str, int] = {}
        for tenant_id in sorted(self.to_readd):
            readded[tenant_id] = self._readd(tenant_id)
        self.report.faults["tenants_removed_and_added_again"] = readded

    def _readd(self, tenant_id: str) -> int:
        """Removes and adds the tenant again (same Moment and Fiken companies); returns the links lost."""
        again, lost = self.world.remove_and_add_again(self.current[tenant_id])
        with self._lock:
            self.current[tenant_id] = again
            self.tenants = [again if t.tenant_id == tenant_id else t for t in self.tenants]
        return lost

    def _readd_during_storm(self, tenant_id: str) -> None:
        """Removed and added again while its webhooks keep coming (this sender's next ones go to the new
        URL; what was queued for the old tenant is processed, dead-lettered or replayed meanwhile); the
        operator backfills it at once."""
        # Once it has state to lose: the queue may still be behind its webhooks (this sender waits).
        deadline = time.monotonic() + 60
        while len(self.world.links(tenant_id)) < 3 and time.monotonic() < deadline:
            time.sleep(0.5)
        self._readded_during[tenant_id] = self._readd(tenant_id)
        self.report.faults["tenants_removed_and_added_during_storm"] = dict(self._readded_during)
        self._backfill(tenant_id, "during the storm")

    def _migrate(self) -> None:
        """Tenants moving from Moment's own Fiken integration: records it wrote are in the books (same
        natural keys; written here through the pipeline, standing in for that integration, which also
        writes through Fiken's API), and none of our state exists. The operator backfills first."""
        if not self.migrating:
            return
        for tenant in self.tenants:
            if tenant.tenant_id in self.migrating:
                script = self.scripts[tenant.tenant_id]
                while script.sent < max(6, self.config.events_per_tenant // 5):
                    self._send(tenant, script.step(), may_lose=False)
        if not self.world.idle(self.config.drain_timeout):
            self.report.problems.append("the queue did not drain before the migration")
        migrated = {tenant_id: self.world.wipe_sync_state(tenant_id) for tenant_id in sorted(self.migrating)}
        self.report.faults["migration_tenants"] = migrated
        for tenant_id in sorted(self.migrating):
            self._backfill(tenant_id, "migration")
        if not self.world.idle(self.config.drain_timeout):
            self.report.problems.append("the queue did not drain after the migration's backfill")

    def _backfill(self, tenant_id: str, when: str) -> None:
        """`momentsync backfill`, run again by the operator when it stops on a fault (it resumes)."""
        failures: list[str] = []
        for _attempt in range(4):
            try:
                result = self.world.cli("backfill", tenant_id)
                break
            except RuntimeError as exc:
                failures.append(str(exc)[-200:])
                time.sleep(1)
        else:
            self.report.problems.append(f"backfill of {tenant_id} ({when}) failed: {failures}")
            return
        counts = result["counts"]
        self.report.adoption[tenant_id] = {
            "when": when,
            "adopt": sum(c.get("adopt", 0) for c in counts.values()),
            "create": sum(c.get("create", 0) for c in counts.values()),
            "queued": sum(result.get("queued", {}).values()),
            "target_reads": result["target_reads"],
            "failed_attempts": len(failures),
            "state_epoch": result.get("state_epoch"),
        }

    def _backfill_readded(self) -> None:
        """The operator's first step for a tenant added again: backfill, adopting what the books hold."""
        for tenant_id in sorted(self.to_readd):
            self._backfill(tenant_id, "after the storm")
        if not self.world.idle(self.config.drain_timeout):
            self.report.problems.append("the queue did not drain after the backfill")

    # ------------------------------------------------------------------ the operator
    def _operate(self) -> None:
        world = self.world
        self._backfill_readded()
        for tenant_id, variant in self.poison.items():
            if variant == "unknown_vat_code":
                world.cli(
                    "tenants",
                    "settings",
                    tenant_id,
                    "--vat-code",
                    f"{UNKNOWN_VAT_CODE}={UNKNOWN_VAT_CODE_MEANS}",
                )
            elif tenant_id in self.poison_invoices:
                tenant = next(t for t in self.tenants if t.tenant_id == tenant_id)
                self._send(
                    tenant,
                    self.scripts[tenant_id].fix_invoice_lines(self.poison_invoices[tenant_id]),
                    may_lose=False,  # the operator's fix is counted on in the verdict
                )
        if not world.idle(self.config.drain_timeout):
            self.report.problems.append("the queue did not drain after the fixes")
        # A FIFO peek shows each tenant's first dead letters only; the depth counts them all.
        letters = world.cli("dlq", "list")["dead_letters"]
        self.report.dead_letters = {
            "before_replay": world.stack.queue_depth("DeadLetterQueue"),
            "reasons": dict(Counter(_reason_kind(letter.get("reason", "")) for letter in letters)),
        }
        for tenant_id, invoice in self.poison_invoices.items():
            self.report.poison_paths[tenant_id] = [
                e.outcome.value
                for e in world.transfer_log(tenant_id)
                if e.entity_type == "invoice" and e.entity_id == invoice.id
            ]
        self.replays: dict[str, list[str]] = {}
        rounds = 0
        while rounds < 3:
            rounds += 1
            report = world.cli("dlq", "replay", "--execute", "--yes")
            for item in report.get("items", []):
                if item.get("new_event_id") and item.get("event_id"):
                    self.replays.setdefault(item["event_id"], []).append(item["new_event_id"])
            if not world.idle(self.config.drain_timeout):
                self.report.problems.append("the queue did not drain after a replay")
            if world.stack.queue_depth("DeadLetterQueue") == 0:
                break
        self.report.dead_letters["replay_rounds"] = rounds
        self.report.dead_letters["replayed"] = sum(len(v) for v in self.replays.values())
        self.report.still_dead = world.stack.queue_depth("DeadLetterQueue")
        parked = DynamoParkedEvents(world.table("PARKED_EVENTS_TABLE"))
        self.report.still_parked = sum(parked.count(t.tenant_id) for t in self.tenants)
        for tenant in self.tenants:
            found = world.tenant(tenant.tenant_id)
            if found.status is not TenantStatus.ACTIVE:
                self.report.problems.append(
                    f"{tenant.tenant_id} is {found.status.value} at the end: {found.status_reason}"
                )
        if self.report.still_dead:
            for letter in world.cli("dlq", "list")["dead_letters"]:
                self.report.problems.append(
                    f"still dead-lettered: {letter['tenant_id']} {letter['entity_type']} "
                    f"{letter['entity_id']}: {letter['reason']}"
                )

    def _converge(self) -> None:
        """The scheduled sweep, run back to back: each round sweeps every tenant, then waits for the
        queue to drain; converged when a round finds nothing missing or older."""
        reconciler = self.world.reconciler()
        rounds: list[dict[str, int]] = []
        started = time.monotonic()
        for _round in range(self.config.convergence_rounds):
            found = Counter[str]()
            for tenant in self.tenants:
                record = reconciler.sweep_tenant(self.world.tenant(tenant.tenant_id))
                if record.outcome not in ("complete", "truncated"):
                    self.report.problems.append(
                        f"sweep of {tenant.tenant_id}: {record.outcome} {record.reason}"
                    )
                found.update(
                    missing=record.missing, stale=record.stale, enqueued=record.enqueued,
                    moment_requests=record.moment_requests, listed=record.listed,
                )  # fmt: skip
            if not self.world.idle(self.config.drain_timeout):
                self.report.problems.append("the queue did not drain after a sweep")
            rounds.append(dict(found))
            if found["enqueued"] == 0:
                break
        else:
            self.report.problems.append(f"the sweep did not converge in {len(rounds)} rounds")
        self.report.convergence = {
            "rounds": len(rounds),
            "repaired": sum(r.get("enqueued", 0) for r in rounds),
            "seconds": round(time.monotonic() - started, 1),
            "per_round": rounds,
        }

    # ------------------------------------------------------------------ the verdict
    def _check(self) -> None:
        world = self.world
        for tenant in self.tenants:
            check_records(world.fiken, world.moment, tenant.slug, tenant.company, self.report.records)
            check_pdfs(world.fiken, tenant.slug, self.report.records)
        logs = {t.tenant_id: world.transfer_log(t.tenant_id) for t in self.tenants}
        check_events(self.accepted, logs, self.replays, self.report.events)
        entries = [
            e for tenant_entries in logs.values() for e in tenant_entries if e.entity_type == "invoice"
        ]
        self.report.invoices_adopted = len(
            {(e.tenant_id, e.entity_id) for e in entries if e.details.get("adopted")}
        )
        self.report.lookups_skipped_by_epoch = sum(1 for e in entries if e.details.get("lookup_skipped"))
        self._every_fault_kind_fired()

    def _every_fault_kind_fired(self) -> None:
        """Issue 15's fault kinds, each configured one must have happened (or the run proves nothing)."""
        config, faults = self.config, self.report.faults
        fired = {
            "webhooks lost before ingest": (config.rates.lost_webhook > 0, self.report.lost_before_ingest),
            "sync state wiped": (config.wiped_tenants > 0, sum(faults.get("sync_state_wiped", {}).values())),
            "removed and added again after the storm": (
                config.readded_tenants > 0,
                len(faults.get("tenants_removed_and_added_again", {})),
            ),
            "removed and added again during the storm": (
                config.readded_during_storm > 0,
                len(faults.get("tenants_removed_and_added_during_storm", {})),
            ),
            "migration (books held records, adopted)": (
                config.migration_tenants > 0,
                sum(a["adopt"] for a in self.report.adoption.values() if a["when"] == "migration"),
            ),
            "attachment answers lost": (
                config.rates.attachment_lost_response > 0,
                faults.get("attachment_answers_lost", 0),
            ),
        }
        for kind, (configured, count) in fired.items():
            if configured and not count:
                self.report.problems.append(f"fault kind never fired: {kind}")


def _reason_kind(reason: str) -> str:
    if "VAT code" in reason:
        return "poison: VAT code"
    if reason.startswith("gave up after"):
        return "transient, retries exhausted"
    return reason[:60] or "(no reason: redriven by SQS)"


def _plain(config: ChaosConfig) -> dict[str, Any]:
    values = dict(config.__dict__)
    values["rates"] = dict(config.rates.__dict__)
    return values


# ---------------------------------------------------------------------- logs
@contextmanager
def captured_logs(path: Path) -> Iterator[None]:
    """Everything logged (ours at the deployed level, third parties', EMF metrics on stdout) to a file."""
    stream = path.open("w", encoding="utf-8")
    ours = logging.getLogger("momentsync")
    swapped = [(h, h.setStream(stream)) for h in ours.handlers if isinstance(h, logging.StreamHandler)]
    everything = logging.StreamHandler(stream)
    root = logging.getLogger()
    root.addHandler(everything)
    try:
        with redirect_stdout(stream):
            yield
    finally:
        root.removeHandler(everything)
        for handler, previous in swapped:
            handler.setStream(previous)
        stream.close()


def run_chaos(
    world: ChaosWorld,
    config: ChaosConfig,
    *,
    say: Callable[[str], None] | None = None,
    keep_log: Path | None = None,
) -> ChaosReport:
    with tempfile.TemporaryDirectory(prefix="momentsync-chaos-logs-") as folder:
        log_path = keep_log or Path(folder) / "chaos.log"
        chaos = ChaosRun(world, config, say=say)
        with captured_logs(log_path):
            report = chaos.run()
        text = log_path.read_text(encoding="utf-8", errors="replace")
    secrets = secrets_to_look_for(
        [t.webhook_url for t in chaos.tenants],
        [t.moment_api_key for t in chaos.tenants],
        world.fiken.issued_tokens(),
        world.client_secret,
    )
    report.log_bytes = len(text)
    report.secrets_scanned = len(secrets)
    report.leaked = leaked(text, secrets)
    if "event processed" not in text:
        report.problems.append("nothing was logged: the log scan would mean nothing")
    return report


# ---------------------------------------------------------------------- figures
def render(report: ChaosReport) -> str:
    events, records = report.events, report.records
    readded = report.faults.get("tenants_removed_and_added_again", {})
    lags = sorted(events.lags)
    p95 = lags[int(len(lags) * 0.95) - 1] if lags else 0.0
    rows = [
        ("seed", str(report.seed)),
        ("tenants × events", f"{report.config['tenants']} × {report.config['events_per_tenant']}"),
        (
            "wall time",
            f"{report.wall_seconds} s ({', '.join(f'{k} {v} s' for k, v in report.phases.items())})",
        ),
        ("events accepted", str(events.accepted)),
        (
            "  applied directly / after resume / after replay",
            f"{events.applied_directly} / {events.applied_after_resume} / {events.applied_after_replay}",
        ),
        (
            "  webhook troubles sent",
            ", ".join(f"{k} {v}" for k, v in sorted(report.troubles.items())) or "none",
        ),
        (
            "faults injected: Fiken",
            ", ".join(f"{k} {v}" for k, v in sorted(report.faults.get("fiken", {}).items())),
        ),
        ("  Fiken's own rate rule (429)", str(report.faults.get("fiken_rate_rule_429", 0))),
        (
            "faults injected: Moment",
            ", ".join(f"{k} {v}" for k, v in sorted(report.faults.get("moment", {}).items())),
        ),
        (
            "processor crashes after a Fiken write",
            ", ".join(
                f"{k} {v}"
                for k, v in sorted(report.faults.get("processor_crash_after_fiken_write", {}).items())
            )
            or "0",
        ),
        (
            "token expiries / revoked consents",
            f"{report.faults.get('token_expiries', 0)} / {report.faults.get('revoked_consents', 0)}",
        ),
        (
            "reconnects (status before, parked before)",
            "; ".join(
                f"{r['status_before']} {r['parked_before']}"
                + (
                    f" ({len(r['failed_attempts'])} attempt(s) answered 503 first)"
                    if r["failed_attempts"]
                    else ""
                )
                for r in report.reconnects
            )
            or "none",
        ),
        (
            "dead letters before replay",
            f"{report.dead_letters.get('before_replay', 0)} "
            f"({', '.join(f'{k} {v}' for k, v in report.dead_letters.get('reasons', {}).items())})",
        ),
        (
            "poison invoices before replay (outcomes)",
            "; ".join(f"{t} {' > '.join(path) or '-'}" for t, path in report.poison_paths.items()) or "none",
        ),
        (
            "replayed (rounds)",
            f"{report.dead_letters.get('replayed', 0)} ({report.dead_letters.get('replay_rounds', 0)})",
        ),
        ("transfer-log outcomes", ", ".join(f"{k} {v}" for k, v in sorted(events.outcomes.items()))),
        (
            "lost before ingest / state wiped (links)",
            f"{report.lost_before_ingest} / "
            + (", ".join(f"{k} {v}" for k, v in report.faults.get("sync_state_wiped", {}).items()) or "0"),
        ),
        ("attachment answers lost", str(report.faults.get("attachment_answers_lost", 0))),
        ("webhook answers lost (timed out at the sender)", str(report.webhook_answers_lost)),
        (
            "removed and added again after / during the storm (links lost)",
            _figures(readded)
            + " / "
            + _figures(report.faults.get("tenants_removed_and_added_during_storm", {})),
        ),
        (
            "migrating tenants (links dropped, books kept)",
            _figures(report.faults.get("migration_tenants", {})),
        ),
        (
            "backfills: adopted / created",
            ", ".join(
                f"{tenant_id} {figures['when']}: {figures['adopt']} / {figures['create']}"
                for tenant_id, figures in report.adoption.items()
            )
            or "-",
        ),
        (
            "invoices adopted by natural key / created without lookup (epoch)",
            f"{report.invoices_adopted} / {report.lookups_skipped_by_epoch}",
        ),
        (
            "sweep: rounds / repaired / time to converge",
            f"{report.convergence.get('rounds', 0)} / {report.convergence.get('repaired', 0)} / "
            f"{report.convergence.get('seconds', 0)} s",
        ),
        ("records checked", ", ".join(f"{k} {v}" for k, v in sorted(records.checked.items()))),
        (
            "documents with one PDF / not one",
            f"{records.pdfs_checked - len(records.pdf_copies)} / {len(records.pdf_copies)}",
        ),
        ("duplicates in Fiken", str(len(records.duplicates))),
        ("missing in Fiken", str(len(records.missing))),
        ("wrong values in Fiken", str(len(records.wrong))),
        ("unexpected in Fiken", str(len(records.unexpected))),
        ("events lost", str(len(events.lost))),
        ("still parked / still dead-lettered", f"{report.still_parked} / {report.still_dead}"),
        ("webhooks refused", str(len(report.rejected_webhooks))),
        (
            "lag accepted→applied p50 / p95 / max",
            f"{statistics.median(lags) if lags else 0:.1f} / {p95:.1f} / {max(lags) if lags else 0:.1f} s "
            f"(max per-tenant lag, direct events)",
        ),
        (
            "log scan",
            f"{report.log_bytes:,} bytes, {report.secrets_scanned} secrets, {len(report.leaked)} found",
        ),
        ("verdict", "OK" if report.ok else "FAILED"),
    ]
    width = max(len(r[0]) for r in rows) + 2
    lines = [f"{name:<{width}}{value}" for name, value in rows]
    for title, items in (
        ("problems", report.problems),
        ("duplicates", records.duplicates),
        ("missing", records.missing),
        ("wrong", records.wrong),
        ("unexpected", records.unexpected),
        ("pdf", records.pdf_copies),
        ("lost", events.lost),
        ("refused", report.rejected_webhooks),
        ("leaked", report.leaked),
    ):
        for item in items[:10]:
            lines.append(f"  {title}: {item}")
    lines.append(
        f"re-run: python -m chaos.run --seed {report.seed} --tenants {report.config['tenants']} "
        f"--events-per-tenant {report.config['events_per_tenant']}"
    )
    return "\n".join(lines)


def _figures(by_tenant: dict[str, int]) -> str:
    return ", ".join(f"{k} ({v})" for k, v in by_tenant.items()) or "0"


def to_json(report: ChaosReport) -> dict[str, Any]:
    lags = sorted(report.events.lags)
    return {
        "seed": report.seed,
        "ok": report.ok,
        "config": report.config,
        "wall_seconds": report.wall_seconds,
        "phases": report.phases,
        "troubles": dict(report.troubles),
        "faults": report.faults,
        "dead_letters": report.dead_letters,
        "reconnects": report.reconnects,
        "events": {
            "accepted": report.events.accepted,
            "applied_directly": report.events.applied_directly,
            "applied_after_resume": report.events.applied_after_resume,
            "applied_after_replay": report.events.applied_after_replay,
            "lost": len(report.events.lost),
            "outcomes": dict(report.events.outcomes),
            "lag_seconds": {
                "p50": round(statistics.median(lags), 2) if lags else None,
                "max": round(max(lags), 2) if lags else None,
            },
        },
        "records": {
            "checked": dict(report.records.checked),
            "duplicates": len(report.records.duplicates),
            "missing": len(report.records.missing),
            "wrong": len(report.records.wrong),
            "unexpected": len(report.records.unexpected),
            "documents_with_one_pdf": report.records.pdfs_checked - len(report.records.pdf_copies),
            "documents_without_exactly_one_pdf": len(report.records.pdf_copies),
        },
        "lost_before_ingest": report.lost_before_ingest,
        "convergence": report.convergence,
        "adoption": report.adoption,
        "invoices_adopted": report.invoices_adopted,
        "lookups_skipped_by_epoch": report.lookups_skipped_by_epoch,
        "still_parked": report.still_parked,
        "still_dead": report.still_dead,
        "log_scan": {
            "bytes": report.log_bytes,
            "secrets": report.secrets_scanned,
            "found": len(report.leaked),
        },
        "problems": report.problems,
    }


def main(argv: list[str] | None = None) -> int:
    from chaos.world import own_world

    parser = argparse.ArgumentParser(prog="python -m chaos.run", description=__doc__.split("\n")[0])
    parser.add_argument("--seed", type=int, default=ChaosConfig.seed)
    parser.add_argument("--tenants", type=int, default=ChaosConfig.tenants)
    parser.add_argument("--events-per-tenant", type=int, default=ChaosConfig.events_per_tenant)
    parser.add_argument("--pollers", type=int, default=16, help="event source mapping concurrency")
    parser.add_argument("--senders", type=int, default=ChaosConfig.senders, help="threads playing Moment")
    parser.add_argument("--out", type=Path, default=Path("chaos/results.json"))
    parser.add_argument("--keep-log", type=Path, help="write everything logged during the run here")
    args = parser.parse_args(argv)
    config = ChaosConfig(
        seed=args.seed, tenants=args.tenants, events_per_tenant=args.events_per_tenant, senders=args.senders
    )
    print(f"[chaos] seed {config.seed}", file=sys.stderr, flush=True)
    with own_world(seed=config.seed, pollers=args.pollers) as world:
        report = run_chaos(
            world,
            config,
            say=lambda m: print(f"[chaos] {m}", file=sys.stderr, flush=True),
            keep_log=args.keep_log,
        )
    print(render(report))
    args.out.write_text(json.dumps(to_json(report), indent=2) + "\n")
    return 0 if report.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
