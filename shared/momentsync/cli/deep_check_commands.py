"""`momentsync deep-check [TENANT ...]`: compare every linked record with the books now, as the
scheduled deep check does (see momentsync.reconcile.deep_check); report drift, re-create nothing."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import typer

from momentsync.cli.backfill_commands import open_session
from momentsync.cli.context import EXIT_NOT_FOUND, console, context_of, fail, print_json, when


def register(app: typer.Typer) -> None:
    app.command("deep-check")(deep_check)


def deep_check(
    ctx: typer.Context,
    tenant_ids: Annotated[list[str] | None, typer.Argument(help="Tenant ids; all tenants when none.")] = None,
) -> None:
    """Compare linked records with the books (Fiken): missing or different is reported, not re-created."""
    # Imported when the command runs: `momentsync --help` must not load pydantic, boto3 or httpx.
    from momentsync.aws.transfer_log import DynamoTransferLog
    from momentsync.reconcile.deep_check import DeepCheck, DeepCheckRun, describe

    context = context_of(ctx)
    repository = context.tenants()
    if tenant_ids:
        tenants = []
        for tenant_id in tenant_ids:
            tenant = repository.get(tenant_id)
            if tenant is None:
                fail(f"tenant {tenant_id} not found (see `momentsync tenants list`)", EXIT_NOT_FOUND)
            tenants.append(tenant)
    else:
        tenants = list(repository.list())
    env = context.target.processor_environment()
    retention = timedelta(days=int(env.get("TRANSFER_LOG_RETENTION_DAYS", "90")))
    check = DeepCheck(
        sync_state=context.sync_state(),
        sweeps=context.sweeps(),
        transfer_log=DynamoTransferLog(context.target.table(context.target.transfer_log_table), retention),
    )
    run = DeepCheckRun(check=check, open_target=lambda tenant: open_session(context, tenant).connector)
    summary = run.run(tenants)
    if context.as_json:
        print_json(summary | {"results": [r.model_dump(mode="json", include=_FIELDS) for r in run.results]})
        return
    for record in run.results:
        if record.deep_check_reason:
            console.print(f"{record.tenant_id}: not checked: {record.deep_check_reason}")
            continue
        console.print(
            f"{record.tenant_id}: {record.deep_checked} linked record(s) compared "
            f"at {when(record.deep_checked_at)}, "
            f"{record.deep_check_reads} request(s) to the books, drift {record.drift_count}"
        )
        for item in record.drift:
            console.print(f"  {describe(item)}")
    console.print(
        f"{summary['tenants']} tenant(s), {summary['checked']} record(s) compared, drift {summary['drift']}"
    )


_FIELDS = {"tenant_id", "deep_checked_at", "deep_checked", "deep_check_reads", "deep_check_reason",
           "drift_count", "drift"}  # fmt: skip
