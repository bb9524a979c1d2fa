"""Every fake in tests/fakes satisfies the Protocols it stands in for: each member the port declares
exists on the fake, and a call shaped as the port's signature (same positional and keyword
parameters) binds to the fake's. No type checker runs in make lint yet, so this is the check;
``tests/unit/test_port_contracts.py`` then checks behaviour against the moto-backed adapters."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from typing import Any

import pytest

import momentsync
from momentsync.ports import (
    AccountingConnector,
    AuditLog,
    CredentialsSource,
    CredentialsStore,
    CredentialsVault,
    DeadLetterInbox,
    DeadLetters,
    DriftAlerts,
    EventQueue,
    FailureRecorder,
    FikenAppCredentialsSource,
    HealthAlerts,
    LastTransfer,
    LeaseLock,
    LinkListing,
    MomentApi,
    NaturalKeyIndex,
    NotFoundAlerts,
    NotificationThrottle,
    Notifier,
    OldestParked,
    OneTimeTokens,
    OperatorAlerts,
    PageSessions,
    ParkedCounter,
    ParkedEvents,
    ParkingLot,
    StateEpochStore,
    StatusCountsSource,
    SweepRecords,
    SweepStore,
    SyncStateStore,
    TargetSide,
    TenantRepository,
    TenantStore,
    TokenProvider,
    TokenSource,
    TransferLog,
    TransferLogReader,
)
from tests.fakes import (
    InMemoryAuditLog,
    InMemoryBooks,
    InMemoryCredentials,
    InMemoryDeadLetterInbox,
    InMemoryDeadLetters,
    InMemoryEventQueue,
    InMemoryMoment,
    InMemoryNotificationThrottle,
    InMemoryOperatorAlerts,
    InMemoryParkedEvents,
    InMemoryStateEpochs,
    InMemorySweepStore,
    InMemorySyncState,
    InMemoryTenants,
    InMemoryTransferLog,
    RecordingFailures,
    RecordingNotifier,
    StaticTokens,
)
from tests.fakes.connect import InMemoryLeases, InMemoryOneTimeTokens
from tests.fakes.selfservice import InMemoryPageSessions, StaticFikenApp

PORTS: list[tuple[type, type]] = [
    (MomentApi, InMemoryMoment),
    (SyncStateStore, InMemorySyncState),
    (StateEpochStore, InMemoryStateEpochs),
    (LinkListing, InMemorySyncState),
    (StatusCountsSource, InMemorySyncState),
    (SweepRecords, InMemorySweepStore),
    (SweepStore, InMemorySweepStore),
    (AccountingConnector, InMemoryBooks),
    (NaturalKeyIndex, InMemoryBooks),
    (TargetSide, InMemoryBooks),
    (EventQueue, InMemoryEventQueue),
    (DeadLetterInbox, InMemoryDeadLetterInbox),
    (TenantRepository, InMemoryTenants),
    (TenantStore, InMemoryTenants),
    (CredentialsSource, InMemoryCredentials),
    (CredentialsStore, InMemoryCredentials),
    (CredentialsVault, InMemoryCredentials),
    (TransferLog, InMemoryTransferLog),
    (TransferLogReader, InMemoryTransferLog),
    (LastTransfer, InMemoryTransferLog),
    (ParkedEvents, InMemoryParkedEvents),
    (ParkedCounter, InMemoryParkedEvents),
    (OldestParked, InMemoryParkedEvents),
    (ParkingLot, InMemoryParkedEvents),
    (DeadLetters, InMemoryDeadLetters),
    (Notifier, RecordingNotifier),
    (FailureRecorder, RecordingFailures),
    (OperatorAlerts, InMemoryOperatorAlerts),
    (NotFoundAlerts, InMemoryOperatorAlerts),
    (DriftAlerts, InMemoryOperatorAlerts),
    (HealthAlerts, InMemoryOperatorAlerts),
    (NotificationThrottle, InMemoryNotificationThrottle),
    (AuditLog, InMemoryAuditLog),
    (TokenProvider, StaticTokens),
    (TokenSource, StaticTokens),
    (LeaseLock, InMemoryLeases),
    (OneTimeTokens, InMemoryOneTimeTokens),
    (PageSessions, InMemoryPageSessions),
    (FikenAppCredentialsSource, StaticFikenApp),
]


def port_members(port: type) -> dict[str, Any]:
    members = {}
    for klass in port.__mro__:
        if klass is object or klass.__name__ in {"Protocol", "Generic"}:
            continue
        for name, value in vars(klass).items():
            if not name.startswith("_") or name == "__call__":
                members.setdefault(name, value)
        for name in getattr(klass, "__annotations__", {}):
            members.setdefault(name, None)  # a declared attribute, e.g. ``system: str``
    return members


def call_shaped_like(signature: inspect.Signature) -> tuple[list[Any], dict[str, Any]]:
    """Arguments as a caller of the port passes them: positional by position, keyword-only by name,
    defaults left out (a caller may omit them) and then all given (a caller may pass them)."""
    args, kwargs = [], {}
    for parameter in list(signature.parameters.values())[1:]:  # without self
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            continue
        if parameter.kind is parameter.KEYWORD_ONLY:
            kwargs[parameter.name] = object()
        else:
            args.append(object())
    return args, kwargs


@pytest.mark.parametrize(("port", "fake"), PORTS, ids=[f"{f.__name__}-{p.__name__}" for p, f in PORTS])
def test_the_fake_has_every_member_of_its_port_with_a_compatible_signature(port, fake):
    for name, declared in port_members(port).items():
        if declared is None:  # a declared attribute: on the class or set per instance
            assert hasattr(fake, name) or hasattr(fake(), name), (
                f"{fake.__name__} lacks {port.__name__}.{name}"
            )
            continue
        assert hasattr(fake, name), f"{fake.__name__} lacks {port.__name__}.{name}"
        if isinstance(declared, property):
            assert isinstance(inspect.getattr_static(fake, name), property), f"{fake.__name__}.{name}"
            continue
        implemented = inspect.getattr_static(fake, name)
        assert callable(implemented), f"{fake.__name__}.{name} is not callable"
        args, kwargs = call_shaped_like(inspect.signature(declared))
        try:
            inspect.signature(implemented).bind(None, *args, **kwargs)
        except TypeError as exc:
            pytest.fail(
                f"{port.__name__}.{name}{inspect.signature(declared)} does not fit {fake.__name__}: {exc}"
            )


def test_every_protocol_in_the_layer_has_a_fake_here():
    """A new Protocol fails this test until a fake in tests/fakes stands in for it."""
    found: set[str] = set()
    for module_info in pkgutil.walk_packages(momentsync.__path__, "momentsync."):
        if ".cli" in module_info.name:
            continue  # the CLI's modules are not ports' users the use cases depend on
        module = importlib.import_module(module_info.name)
        found |= {
            f"{value.__module__}.{value.__qualname__}"
            for value in vars(module).values()
            if inspect.isclass(value)
            and getattr(value, "_is_protocol", False)
            and value.__module__ == module.__name__
        }
    covered = {f"{port.__module__}.{port.__qualname__}" for port, _ in PORTS}
    assert found - covered == set()
    assert len(found) >= 30  # the walk did find the layer's Protocols
