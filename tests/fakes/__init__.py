"""In-memory fakes of every port the use cases, the processor, the webhook door and the connect flow
talk to, in one place. Each behaves like its real adapter in what callers rely on (conditional writes,
optimistic versions, ordering, not-found answers); ``tests/unit/test_port_contracts.py`` runs the same
assertions against a fake and its moto-backed adapter, and ``tests/unit/test_fakes_satisfy_ports.py``
checks every fake against its Protocol.
"""

from tests.fakes.alerts import (
    InMemoryAuditLog,
    InMemoryNotificationThrottle,
    InMemoryOperatorAlerts,
    StaticTokens,
)
from tests.fakes.books import InMemoryBooks
from tests.fakes.credentials import InMemoryCredentials
from tests.fakes.moment import InMemoryMoment
from tests.fakes.processor_ports import (
    InMemoryDeadLetters,
    InMemoryParkedEvents,
    InMemoryTransferLog,
    RecordingFailures,
    RecordingNotifier,
)
from tests.fakes.queue import InMemoryDeadLetterInbox, InMemoryEventQueue
from tests.fakes.state_epochs import InMemoryStateEpochs
from tests.fakes.sweeps import InMemorySweepStore
from tests.fakes.sync_state import InMemorySyncState
from tests.fakes.tenants import InMemoryTenants

__all__ = [
    "InMemoryStateEpochs",
    "InMemoryAuditLog",
    "InMemoryNotificationThrottle",
    "InMemoryOperatorAlerts",
    "StaticTokens",
    "InMemoryBooks",
    "InMemoryCredentials",
    "InMemoryDeadLetters",
    "InMemoryDeadLetterInbox",
    "InMemoryEventQueue",
    "InMemoryMoment",
    "InMemoryParkedEvents",
    "InMemorySweepStore",
    "InMemorySyncState",
    "InMemoryTenants",
    "InMemoryTransferLog",
    "RecordingFailures",
    "RecordingNotifier",
]
