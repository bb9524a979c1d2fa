"""Error types that say what the processor must do with an event.

Raised at the edge (clients, mapping), decided on once, in the processor:

- ``TransientError``: try again later (the SQS message becomes visible again and is retried).
- ``PermanentError``: retrying cannot help; record the reason, notify, dead-letter at once.
- ``TenantLevelError``: the tenant, not the event, is broken (re-auth needed, module missing, paused);
  park the tenant's events until it is active again.

Messages must never contain secrets, tokens or webhook URLs.
"""

from __future__ import annotations

from enum import StrEnum


class SyncError(Exception):
    """Base of every error the processor decides on."""

    def __init__(self, reason: str, *, detail: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.detail = detail


class TransientError(SyncError):
    """Network trouble, 429, 5xx, a lock held elsewhere: the same event may succeed later."""


class PermanentError(SyncError):
    """Invalid data or a rule of the target system; needs a human change in Moment or the target."""


class TenantProblem(StrEnum):
    NEEDS_REAUTH = "needs_reauth"
    MODULE_MISSING = "module_missing"
    BANK_ACCOUNT_UNVERIFIED = "bank_account_unverified"
    API_ACCESS_MISSING = "api_access_missing"
    MOMENT_KEY_INVALID = "moment_key_invalid"
    PAUSED = "paused"


class TenantLevelError(SyncError):
    """The tenant's connection is unusable until someone acts; its events are parked, not failed."""

    def __init__(
        self, problem: TenantProblem, reason: str, *, remedy: str | None = None, recorded: bool = False
    ) -> None:
        super().__init__(reason)
        self.problem = problem
        self.remedy = remedy
        # The raiser already stored the problem on the tenant, with the knowledge to do it safely
        # (the token provider decides under the tenant's token lease): the processor must not write it
        # again from its older copy, which could undo a reconnect made in between.
        self.recorded = recorded


class WaitingError(SyncError):
    """The Moment record is not ready to sync yet (e.g. a project without a start date).

    Not a failure: recorded as outcome ``waiting``; the next change in Moment syncs it.
    """
