"""What every CLI command shares: the resolved stack, its adapters, output and exit codes.

Exit codes: 0 ok, 1 failed, 2 usage, 3 not found, 4 conflict (changed concurrently / exists).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from momentsync.cli.target import StackNotFound, StackTarget, resolve_target

if TYPE_CHECKING:  # the adapters pull in boto3 and pydantic models: imported when a command runs
    from momentsync.aws.audit_log import DynamoAuditLog
    from momentsync.aws.credentials import SecretsManagerCredentialsStore
    from momentsync.aws.dead_letter_queue import DeadLetterQueue
    from momentsync.aws.parking import DynamoParkedEvents
    from momentsync.aws.queue import SqsEventQueue
    from momentsync.aws.state_epochs import DynamoStateEpochs
    from momentsync.aws.sweep_store import SweepStore
    from momentsync.aws.sync_state import DynamoSyncState
    from momentsync.aws.tenants import DynamoTenantRepository
    from momentsync.aws.transfer_log import DynamoTransferLog

EXIT_FAILED, EXIT_USAGE, EXIT_NOT_FOUND, EXIT_CONFLICT = 1, 2, 3, 4

console = Console()
errors = Console(stderr=True)


def fail(message: str, code: int = EXIT_FAILED, hint: str | None = None) -> NoReturn:
    """One line on stderr (never markup-parsed: regexes and ``[section]`` names stay whole), a hint."""
    say_error(message, hint)
    raise typer.Exit(code)


def say_error(message: str, hint: str | None = None) -> None:
    # soft_wrap: a long line is left to the terminal, never cut or folded by Rich.
    errors.print(f"[red]error:[/red] {escape(message)}", soft_wrap=True, highlight=False)
    if hint:
        errors.print(f"hint: {escape(hint)}", soft_wrap=True, highlight=False)


def print_json(data: Any) -> None:
    # Plain text, not Rich: nothing wrapped, highlighted or cut, whatever the terminal width.
    typer.echo(json.dumps(data, indent=2, default=str))


def print_whole(text: str) -> None:
    """A value the operator must copy (a URL with its secret): on its own line, never in a table."""
    typer.echo(text)


def parse_since(value: str | None) -> datetime | None:
    """ISO (``2026-11-23``, ``2026-11-23T08:00``; UTC unless an offset is given) or an age: 15m, 6h, 2d."""
    if not value:
        return None
    units = {"m": "minutes", "h": "hours", "d": "days"}
    if value[-1:] in units and value[:-1].isdigit():
        return datetime.now(UTC) - timedelta(**{units[value[-1]]: int(value[:-1])})
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        fail(f"cannot read time {value!r}: use ISO (2026-11-23T08:00) or an age (15m, 6h, 2d)", EXIT_USAGE)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@dataclass
class Context:
    target_options: dict[str, Any]
    as_json: bool
    _target: StackTarget | None = None
    _actor: str | None = None

    @property
    def target(self) -> StackTarget:
        if self._target is None:
            try:
                self._target = resolve_target(**self.target_options)
            except StackNotFound as exc:
                fail(str(exc), EXIT_USAGE, exc.hint)
        return self._target

    def tenants(self) -> DynamoTenantRepository:
        from momentsync.aws.tenants import DynamoTenantRepository

        return DynamoTenantRepository(self.target.table(self.target.tenants_table))

    def credentials(self) -> SecretsManagerCredentialsStore:
        from momentsync.aws.credentials import SecretsManagerCredentialsStore

        return SecretsManagerCredentialsStore(
            self.target.client("secretsmanager"), self.target.credentials_secret_prefix
        )

    # ------------------------------------------------------------------ operations
    def actor(self) -> str:
        """Who is acting, for the audit trail: the STS caller ARN, or the OS user locally."""
        if self._actor is None:
            from momentsync.aws.audit_log import operator_identity

            self._actor = operator_identity(None if self.target.is_local else self.target.client("sts"))
        return self._actor

    def audit(self) -> DynamoAuditLog:
        from momentsync.aws.audit_log import DynamoAuditLog

        if not self.target.audit_table:
            fail("this stack has no audit table (deploy the current template first)", EXIT_USAGE)
        return DynamoAuditLog(self.target.table(self.target.audit_table))

    def dead_letter_queue(self) -> DeadLetterQueue:
        from momentsync.aws.dead_letter_queue import DeadLetterQueue

        return DeadLetterQueue(
            self.target.client("sqs"), self.target.dead_letter_queue_url, transfer_log=self.transfer_log()
        )

    def event_queue(self) -> SqsEventQueue:
        from momentsync.aws.queue import SqsEventQueue

        return SqsEventQueue(self.target.client("sqs"), self.target.event_queue_url)

    def sync_state(self) -> DynamoSyncState:
        from momentsync.aws.sync_state import DynamoSyncState

        return DynamoSyncState(self.target.table(self.target.sync_state_table))

    def state_epochs(self) -> DynamoStateEpochs:
        """Each tenant's "state complete since" epoch (kept in the sync-state table)."""
        from momentsync.aws.state_epochs import DynamoStateEpochs

        return DynamoStateEpochs(self.target.table(self.target.sync_state_table))

    def sweeps(self) -> SweepStore:
        """The reconciliation sweep's record per tenant (kept in the sync-state table)."""
        from momentsync.aws.sweep_store import SweepStore

        return SweepStore(self.target.table(self.target.sync_state_table))

    def parked(self) -> DynamoParkedEvents:
        from momentsync.aws.parking import DynamoParkedEvents

        return DynamoParkedEvents(self.target.table(self.target.parked_events_table))

    def transfer_log(self) -> DynamoTransferLog:
        from momentsync.aws.transfer_log import DynamoTransferLog

        # Retention only matters when writing; the CLI only reads.
        return DynamoTransferLog(self.target.table(self.target.transfer_log_table), timedelta(days=1))


def context_of(ctx: typer.Context) -> Context:
    context: Context = ctx.obj  # typer's Context.obj is Any: main() sets ours
    return context


def when(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M") if value else "-"


def age(seconds: int | None) -> str:
    if seconds is None:
        return "unavailable"
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 7200:
        return f"{seconds // 60}m"
    if seconds < 172800:
        return f"{seconds // 3600}h"
    return f"{seconds // 86400}d"


def record_action(context: Context, action: str, tenant_id: str | None, details: dict[str, Any]) -> None:
    """Audits an action that has already happened: a missing audit table warns instead of failing it."""
    if not context.target.audit_table:
        errors.print(
            f"[yellow]warning:[/yellow] not audited ({escape(action)}): this stack has no audit table"
        )
        return
    from momentsync.aws.audit_log import DynamoAuditLog

    DynamoAuditLog(context.target.table(context.target.audit_table)).record(
        actor=context.actor(), action=action, tenant_id=tenant_id, details=details
    )
