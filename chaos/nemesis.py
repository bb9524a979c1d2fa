"""The faults of a chaos run (docs/reference/anchors.md §4.4), injected where they happen in production.

- Fiken and Moment misbehave at the HTTP level (the emulators' seeded ``FaultPlan``s): 429s, 5xx,
  timeouts, answers lost after the change was applied, slow answers; plus scripted 429 bursts.
- The processor dies after Fiken accepted a change and before our sync state records it
  (``CrashAfterFikenSuccess`` wraps the Fiken connector's writes).
- Fiken ends every access token early; a tenant's user revokes the app and later reconnects
  (the run schedules those, ``FikenEmulator.expire_access_tokens`` / ``revoke_consent``).
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from emulators.common import FaultPlan
from momentsync.connectors.fiken.connector import FikenConnector


@dataclass(frozen=True)
class FaultRates:
    """Probability per request, on the chaos tenants' paths only."""

    fiken_429: float = 0.02
    fiken_5xx: float = 0.02
    fiken_timeout: float = 0.004
    fiken_lost_response: float = 0.02
    fiken_slow: float = 0.03
    moment_429: float = 0.02
    moment_5xx: float = 0.02
    processor_crash: float = 0.03  # per successful Fiken write
    lost_webhook: float = 0.05  # per notice: never reaches us (only the sweep can repair it)
    attachment_lost_response: float = 0.05  # per PDF upload: applied, answer lost
    timeout_seconds: float = 1.0
    slow_seconds: float = 0.4


def install_http_faults(
    fiken: FaultPlan, moment: FaultPlan, rates: FaultRates, fiken_path: str, moment_path: str
) -> None:
    """Probabilistic faults on every request whose path matches (regular expressions)."""
    fiken.sometimes(
        "status", rates.fiken_429, path=fiken_path, status=429, body={"message": "Too many requests"}
    )
    fiken.sometimes("status", rates.fiken_5xx * 0.75, path=fiken_path, status=503)
    fiken.sometimes("status", rates.fiken_5xx * 0.25, path=fiken_path, status=500)
    fiken.sometimes("timeout", rates.fiken_timeout, path=fiken_path, seconds=rates.timeout_seconds)
    fiken.sometimes("drop_after_apply", rates.fiken_lost_response, path=fiken_path)
    fiken.sometimes("slow", rates.fiken_slow, path=fiken_path, seconds=rates.slow_seconds)
    moment.sometimes("status", rates.moment_429, path=moment_path, status=429)
    moment.sometimes("status", rates.moment_5xx, path=moment_path, status=503)


def install_one_of_each(
    fiken: FaultPlan, moment: FaultPlan, fiken_path: str, moment_path: str, rates: FaultRates
) -> None:
    """Each kind once at the start, so a short run still meets every kind."""
    fiken.script("status", times=1, path=fiken_path, status=429)
    fiken.script("status", times=1, path=fiken_path, status=503)
    fiken.script("timeout", times=1, path=fiken_path, seconds=rates.timeout_seconds)
    fiken.script("drop_after_apply", times=1, method="POST", path=fiken_path)
    fiken.script("slow", times=1, path=fiken_path, seconds=rates.slow_seconds)
    moment.script("status", times=1, path=moment_path, status=429)
    moment.script("status", times=1, path=moment_path, status=503)


ATTACHMENT_UPLOAD = r"/(invoices|sales)/[0-9]+/attachments$"


def install_attachment_faults(fiken: FaultPlan, fiken_path: str, rate: float) -> None:
    """PDF uploads Fiken applied whose answer is lost: once at the start, then at ``rate``."""
    path = f"{fiken_path}[^/]*{ATTACHMENT_UPLOAD}"
    fiken.script("drop_after_apply", times=1, method="POST", path=path)
    fiken.sometimes("drop_after_apply", rate, method="POST", path=path)


def attachment_answers_lost(plan: FaultPlan) -> int:
    return sum(rule.fired for rule in plan.rules() if ATTACHMENT_UPLOAD in rule.path)


def fired_by_rule(plan: FaultPlan) -> Counter[str]:
    """Faults fired by kind, a ``status`` fault named by its status (``429``, ``5xx``)."""
    fired: Counter[str] = Counter()
    for rule in plan.rules():
        if not rule.fired:
            continue
        name = rule.kind.value
        if name == "status":
            name = "429" if rule.status == 429 else "5xx"
        fired[name] += rule.fired
    return fired


class ProcessorCrash(RuntimeError):
    """Stands for the Lambda dying (timeout, out of memory) between Fiken's answer and our write."""


@dataclass
class CrashAfterFikenSuccess:
    """Wraps the connector's writes: after Fiken applied one, sometimes the processor 'dies'."""

    probability: float
    seed: int
    tenant_prefix: str
    methods: tuple[str, ...] = ("upsert_customer", "upsert_project", "create_invoice")
    fired: Counter[str] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)
        self._lock = threading.Lock()
        self._originals: dict[str, Any] = {}

    def install(self) -> None:
        for name in self.methods:
            original = getattr(FikenConnector, name)
            self._originals[name] = original
            setattr(FikenConnector, name, self._wrap(name, original))

    def uninstall(self) -> None:
        for name, original in self._originals.items():
            setattr(FikenConnector, name, original)
        self._originals.clear()

    def _wrap(self, name: str, original: Any) -> Any:
        def write_then_maybe_die(connector: FikenConnector, *args: Any, **kwargs: Any) -> Any:
            result = original(connector, *args, **kwargs)
            if connector.tenant.tenant_id.startswith(self.tenant_prefix):
                with self._lock:
                    crash = self._random.random() < self.probability
                    if crash:
                        self.fired[name] += 1
                if crash:
                    raise ProcessorCrash(f"processor died after Fiken applied {name}")
            return result

        return write_then_maybe_die
