"""Processing one queued event: the single place where error types become actions.

- success / unchanged / waiting / deleted / not_found -> recorded, acknowledged (a burst of
  not_found for one tenant is reported to the operator);
- ``TransientError`` -> recorded as retrying, re-raised so SQS delivers it again; on the last
  allowed delivery it is dead-lettered by us instead, with the reason attached;
- ``PermanentError`` -> recorded, the tenant notified, dead-lettered at once with the reason, acked;
- ``TenantLevelError`` -> the tenant flagged (needs_reauth / problem), notified once, the event
  parked (not failed) until the tenant is active again;
- a tenant that is paused or needs re-auth -> the event is parked without any remote call;
- anything else (unclassified) -> recorded with its type and a safe message, tried again up to
  ``unexpected_retry.attempts`` times with a short backoff, then dead-lettered with that reason.

Nothing accepted is lost: every path ends in the target, in the parked table, or in the DLQ.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from momentsync.envelope import QueueEnvelope
from momentsync.errors import PermanentError, TenantLevelError, TenantProblem, TransientError, WaitingError
from momentsync.observability import logger, metrics
from momentsync.ports import DeadLetters, FailureRecorder, Notifier, ParkedEvents, TenantStore, TransferLog
from momentsync.sync.failures import UnexpectedRetryPolicy, safe_message
from momentsync.sync.not_found import NotFoundBurstWatch
from momentsync.sync.transfer_log import Outcome, TransferLogEntry
from momentsync.tenants import Tenant, TenantConflict, TenantStatus

# Outcomes after which the tenant item read for the event still holds for the group's next event:
# nothing of the tenant was flagged or changed by it (parking, failures and retries re-read it).
_TENANT_STILL_CURRENT = frozenset(
    {
        Outcome.SYNCED,
        Outcome.UNCHANGED,
        Outcome.WAITING,
        Outcome.DELETED,
        Outcome.NOT_FOUND,
        Outcome.SKIPPED,
        Outcome.FLAGGED,
    }
)

# The tenants read in the current message group's run (see EventProcessor.tenant_memo); None outside one.
_group_tenants: ContextVar[dict[str, Tenant] | None] = ContextVar("group_tenants", default=None)


@dataclass
class SyncResult:
    outcome: Outcome
    remote_id: str | None = None
    reason: str | None = None
    remote_calls: int = 0
    details: dict[str, Any] = field(default_factory=dict)


UseCase = Callable[[QueueEnvelope, Tenant], SyncResult]


@dataclass
class EventProcessor:
    tenants: TenantStore
    use_cases: Mapping[str, UseCase]
    transfer_log: TransferLog
    parked: ParkedEvents
    dead_letters: DeadLetters
    notifier: Notifier
    record_failure: FailureRecorder
    max_receive_count: int = 5
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    unexpected_retry: UnexpectedRetryPolicy = field(default_factory=UnexpectedRetryPolicy)
    sleep: Callable[[float], None] = time.sleep
    not_found_watch: NotFoundBurstWatch | None = None
    # Entered around one invocation's batch, given its time left in seconds: the transfer log may write
    # its entries together at its end (or before the deadline).
    batch_scope: Callable[[Callable[[], float] | None], AbstractContextManager[Any]] = nullcontext

    @contextmanager
    def tenant_memo(self) -> Iterator[None]:
        """Within it, a tenant is read once for a run of its events (one message group of a batch).

        Saves one consistent DynamoDB read per event after the group's first. A change an operator makes
        to the tenant (pause, settings) then applies from the next batch, at most 9 events later; any
        outcome that is not a plain success (parked, failed, retrying) drops the memo, so a flagged
        tenant is read again.
        """
        token = _group_tenants.set({})
        try:
            yield
        finally:
            _group_tenants.reset(token)

    def process(self, envelope: QueueEnvelope, *, receive_count: int = 1) -> Outcome:
        memo = _group_tenants.get()
        try:
            outcome = self._process(envelope, receive_count, memo)
        except BaseException:
            if memo is not None:
                memo.pop(envelope.tenant_id, None)
            raise
        if memo is not None and outcome not in _TENANT_STILL_CURRENT:
            memo.pop(envelope.tenant_id, None)
        return outcome

    def _read_tenant(self, tenant_id: str, memo: dict[str, Tenant] | None) -> Tenant | None:
        tenant = memo.get(tenant_id) if memo is not None else None
        if tenant is None:
            tenant = self.tenants.get(tenant_id)
            if memo is not None and tenant is not None:
                memo[tenant_id] = tenant
        return tenant

    def _process(
        self, envelope: QueueEnvelope, receive_count: int, memo: dict[str, Tenant] | None
    ) -> Outcome:
        started = time.monotonic()
        tenant = self._read_tenant(envelope.tenant_id, memo)
        if tenant is None:
            return self._dead_letter(
                envelope,
                started,
                receive_count,
                "PermanentError",
                f"tenant {envelope.tenant_id} does not exist",
            )
        if tenant.status is TenantStatus.DISABLED:
            return self._dead_letter(
                envelope,
                started,
                receive_count,
                "PermanentError",
                "tenant is disabled; replay after re-enabling it",
            )
        if not tenant.processing_enabled:
            return self._park(envelope, started, receive_count, f"tenant is {tenant.status.value}")

        use_case = self.use_cases.get(envelope.entity_type)
        if use_case is None:
            return self._dead_letter(
                envelope,
                started,
                receive_count,
                "PermanentError",
                f"no sync for entity type {envelope.entity_type}",
            )
        policy = self.unexpected_retry
        for attempt in range(1, policy.attempts + 1):
            try:
                result = use_case(envelope, tenant)
            except WaitingError as exc:
                result = SyncResult(Outcome.WAITING, reason=exc.reason)
            except TransientError as exc:
                if receive_count >= self.max_receive_count:
                    return self._dead_letter(
                        envelope,
                        started,
                        receive_count,
                        type(exc).__name__,
                        # Deliveries, not runs: SQS also counts one in which an earlier event of the
                        # tenant failed and this one was handed back untried.
                        f"gave up after {receive_count} deliveries: {exc.reason}",
                    )
                self._log(envelope, Outcome.RETRYING, started, receive_count, reason=exc.reason)
                raise
            except TenantLevelError as exc:
                self._flag_tenant(tenant, exc)
                return self._park(envelope, started, receive_count, exc.reason)
            except PermanentError as exc:
                self.notifier.notify(
                    tenant,
                    kind="permanent_failure",
                    subject=f"{envelope.entity_type} {envelope.entity_id} was not transferred",
                    message=f"{exc.reason}. Fix it in Moment (or the accounting system); the next change "
                    "in Moment transfers it, or an operator can replay it.",
                    dedupe_key=f"{envelope.entity_type}#{envelope.entity_id}#{exc.reason}",
                )
                return self._dead_letter(envelope, started, receive_count, type(exc).__name__, exc.reason)
            except Exception as exc:  # noqa: BLE001 - unclassified: recorded, retried briefly, dead-lettered
                reason = safe_message(exc)
                logger.warning(
                    "unclassified failure",
                    extra={
                        "tenant_id": envelope.tenant_id,
                        "event_id": envelope.event_id,
                        "error_type": type(exc).__name__,
                        "attempt": attempt,
                    },
                )
                if attempt < policy.attempts:
                    self.log_safely(
                        envelope,
                        Outcome.RETRYING,
                        started,
                        receive_count,
                        reason=f"{reason} (attempt {attempt} of {policy.attempts})",
                    )
                    self.sleep(policy.pause_before(attempt + 1))
                    continue
                return self._dead_letter(
                    envelope,
                    started,
                    receive_count,
                    type(exc).__name__,
                    f"unexpected failure, gave up after {policy.attempts} attempts: {reason}",
                )
            break

        self._log(envelope, result.outcome, started, receive_count, result=result)
        if result.outcome is Outcome.NOT_FOUND and self.not_found_watch is not None:
            self.not_found_watch.observe(envelope)
        return result.outcome

    # ------------------------------------------------------------------ outcomes
    def _park(self, envelope: QueueEnvelope, started: float, receive_count: int, reason: str) -> Outcome:
        self.parked.park(envelope, reason)
        now = self.tenants.get(envelope.tenant_id)
        if now is not None and now.processing_enabled:
            # Reconnected or resumed while this event was being parked: the resume may have listed the
            # parked events before this one was written, so take it back and let SQS deliver it again
            # (if the resume did send it, the second copy finds nothing to change).
            self.parked.release(envelope)
            retry = "tenant became active while the event was being parked"
            self._log(envelope, Outcome.RETRYING, started, receive_count, reason=retry)
            raise TransientError(retry)
        self._log(envelope, Outcome.PARKED, started, receive_count, reason=reason)
        return Outcome.PARKED

    def _dead_letter(
        self, envelope: QueueEnvelope, started: float, receive_count: int, error_class: str, reason: str
    ) -> Outcome:
        self.dead_letters.send(
            body=envelope.to_message_body(),
            tenant_id=envelope.tenant_id,
            reason=reason,
            error_class=error_class,
            entity_type=envelope.entity_type,
            event_id=envelope.event_id,
            receive_count=receive_count,
        )
        try:
            self.record_failure(envelope, Outcome.FAILED, reason)
        except Exception as exc:  # noqa: BLE001 - the DLQ copy is what matters; state is best effort here
            logger.warning("could not record failure on sync state", extra={"error_type": type(exc).__name__})
        self.log_safely(envelope, Outcome.FAILED, started, receive_count, reason=reason)
        return Outcome.FAILED

    def log_safely(
        self, envelope: QueueEnvelope, outcome: Outcome, started: float, receive_count: int, *, reason: str
    ) -> None:
        """A transfer-log entry on a failure path: the failure may be the log's own store."""
        try:
            self._log(envelope, outcome, started, receive_count, reason=reason)
        except Exception as exc:  # noqa: BLE001 - the outcome (DLQ, retry) must not depend on the log
            logger.warning(
                "could not write the transfer log",
                extra={"event_id": envelope.event_id, "error_type": type(exc).__name__},
            )

    def _flag_tenant(self, tenant: Tenant, error: TenantLevelError) -> None:
        """Marks the tenant so its next events park at once, and tells its people once per incident.

        "Once" is judged on the tenant as this event found it: the token provider may already have
        stored ``needs_reauth`` itself, and a re-read copy would then hide that this is the first time.
        """
        if error.problem is TenantProblem.NEEDS_REAUTH:
            first_time = tenant.status is not TenantStatus.NEEDS_REAUTH
        else:
            first_time = tenant.problems.get(error.problem.value) != error.reason
        found = (tenant.status, tenant.status_reason)
        current: Tenant | None = None  # the tenant as stored now, once read
        for _ in range(0 if error.recorded else 3):
            if error.problem is TenantProblem.NEEDS_REAUTH:
                tenant.status = TenantStatus.NEEDS_REAUTH
                tenant.status_reason = error.reason
            else:
                tenant.problems = {**tenant.problems, error.problem.value: error.reason}
                # The connection is unusable until someone acts (buys the module, verifies the account).
                tenant.status = TenantStatus.PAUSED
                tenant.status_reason = error.reason
            try:
                self.tenants.save(tenant)
                break
            except TenantConflict:
                fresh = self.tenants.get(tenant.tenant_id)
                if fresh is None:
                    return
                tenant = current = fresh
                if (fresh.status, fresh.status_reason) != found:
                    break  # someone changed the status since this event read it (a reconnect?): theirs stands
        if first_time and error.recorded:
            # The event's copy may be older than the raiser's knowledge (a group's run reads the tenant
            # once): whether an operator ended the connection meanwhile is in the stored tenant.
            current = self.tenants.get(tenant.tenant_id)
        if current is not None and current.status is TenantStatus.DISABLED:
            # Disabled or disconnected by an operator while this event ran: a decision, not a problem for
            # the tenant's people to fix, so no "needs attention" mail (its events park until resumed).
            first_time = False
        if first_time:
            remedy = f" {error.remedy}" if error.remedy else ""
            self.notifier.notify(
                tenant,
                kind=error.problem.value,
                subject=f"momentsync: {tenant.name} needs attention ({error.problem.value})",
                message=f"{error.reason}.{remedy} Transfers are held, not lost, "
                "and resume in order once fixed.",
                dedupe_key=f"tenant#{error.problem.value}",
            )

    def _log(
        self,
        envelope: QueueEnvelope,
        outcome: Outcome,
        started: float,
        receive_count: int,
        *,
        reason: str | None = None,
        result: SyncResult | None = None,
    ) -> None:
        entry = TransferLogEntry(
            tenant_id=envelope.tenant_id,
            event_id=envelope.event_id,
            entity_type=envelope.entity_type,
            entity_id=envelope.entity_id,
            outcome=outcome,
            logged_at=self.clock(),
            remote_id=result.remote_id if result else None,
            remote_calls=result.remote_calls if result else 0,
            duration_ms=int((time.monotonic() - started) * 1000),
            reason=reason or (result.reason if result else None),
            origin=envelope.origin,
            receive_count=receive_count,
            details=result.details if result else {},
        )
        self.transfer_log.record(entry)
        metrics.add_metric(name=f"Events{outcome.value.title()}", unit=MetricUnit.Count, value=1)
        if entry.remote_calls:
            metrics.add_metric(name="RemoteCalls", unit=MetricUnit.Count, value=entry.remote_calls)
        logger.info(
            "event processed",
            extra={
                "tenant_id": envelope.tenant_id,
                "event_id": envelope.event_id,
                "entity_type": envelope.entity_type,
                "entity_id": envelope.entity_id,
                "outcome": outcome.value,
                "remote_calls": entry.remote_calls,
                "duration_ms": entry.duration_ms,
                "reason": entry.reason,
            },
        )
