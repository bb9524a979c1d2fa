"""Fault plan: which requests an emulator should answer badly, and how.

A ``FaultPlan`` holds ``FaultRule``s. A rule matches on HTTP method (``"*"`` = any) and a regular
expression searched in the request path (``re.search``, so anchor it with ``^``/``$`` when needed).
A rule fires either by **script** (``times=N``: the next N matching requests, then it is spent) or by
**probability** (``probability=p``, rolled on the plan's seeded ``random.Random`` so a run is
reproducible). Scripted rules are consulted before probabilistic ones, each group in insertion order;
at most one rule fires per request.

Kinds (``FaultKind``):

- ``status``: answer ``status`` (e.g. 429/500/503) with ``body`` at once; the emulator never sees it.
- ``timeout``: hold the request ``seconds``, then close the connection without an answer; nothing
  was applied.
- ``drop_after_apply``: let the emulator perform the real operation, then close the connection
  without sending its answer (the "applied but response lost" case).
- ``slow``: wait ``seconds``, then send the real answer.

Typical use::

    plan.script("status", status=503, times=2, method="POST", path=r"/invoices$")
    plan.sometimes("timeout", probability=0.1, seconds=2.0)
    plan.fired()  # {"status": 2, "timeout": 0, ...}

Thread-safe: one lock guards rules, the random generator and the counters.
"""

from __future__ import annotations

import json
import random
import re
import threading
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class FaultKind(StrEnum):
    STATUS = "status"
    TIMEOUT = "timeout"
    DROP_AFTER_APPLY = "drop_after_apply"
    SLOW = "slow"


@dataclass
class FaultRule:
    """One fault; ``times`` (scripted) or ``probability`` says when it fires."""

    kind: FaultKind
    method: str = "*"
    path: str = ""
    times: int | None = None
    probability: float = 0.0
    status: int = 503
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    fired: int = 0

    def __post_init__(self) -> None:
        self.kind = FaultKind(self.kind)
        self.method = self.method.upper()
        self._pattern = re.compile(self.path)
        if self.times is None and not 0.0 <= self.probability <= 1.0:
            raise ValueError("probability must be within 0..1")
        if self.times is not None and self.times < 0:
            raise ValueError("times must be >= 0")

    def matches(self, method: str, path: str) -> bool:
        return self.method in ("*", method.upper()) and self._pattern.search(path) is not None

    @property
    def scripted(self) -> bool:
        return self.times is not None

    @property
    def spent(self) -> bool:
        return self.times is not None and self.times <= 0

    def body_bytes(self) -> tuple[bytes, str]:
        """The body of a ``status`` fault and its content type (dicts/lists are sent as JSON)."""
        if self.body is None:
            return json.dumps({"message": f"injected fault: HTTP {self.status}"}).encode(), "application/json"
        if isinstance(self.body, bytes):
            return self.body, "application/octet-stream"
        if isinstance(self.body, str):
            return self.body.encode(), "text/plain; charset=utf-8"
        return json.dumps(self.body).encode(), "application/json"


class FaultPlan:
    """The rules of one emulator, a seeded random generator and counters of faults fired by kind."""

    def __init__(self, seed: int = 0) -> None:
        self._lock = threading.Lock()
        self._random = random.Random(seed)
        self._rules: list[FaultRule] = []
        self._fired: dict[str, int] = {kind.value: 0 for kind in FaultKind}

    def add(self, rule: FaultRule) -> FaultRule:
        with self._lock:
            self._rules.append(rule)
        return rule

    def script(
        self, kind: FaultKind | str, *, times: int = 1, method: str = "*", path: str = "", **params: Any
    ) -> FaultRule:
        """Fault the next ``times`` requests matching ``method`` and ``path``."""
        return self.add(FaultRule(kind=FaultKind(kind), method=method, path=path, times=times, **params))

    def sometimes(
        self, kind: FaultKind | str, probability: float, *, method: str = "*", path: str = "", **params: Any
    ) -> FaultRule:
        """Fault each matching request with ``probability`` (seeded, so reproducible)."""
        return self.add(
            FaultRule(kind=FaultKind(kind), method=method, path=path, probability=probability, **params)
        )

    def clear(self, *, seed: int | None = None) -> None:
        """Drop all rules and zero the counters; reseed the generator when ``seed`` is given."""
        with self._lock:
            self._rules.clear()
            self._fired = {kind.value: 0 for kind in FaultKind}
            if seed is not None:
                self._random.seed(seed)

    def rules(self) -> list[FaultRule]:
        with self._lock:
            return list(self._rules)

    def fired(self) -> dict[str, int]:
        """Faults fired so far, by kind (every kind present, zero included)."""
        with self._lock:
            return dict(self._fired)

    def draw(self, method: str, path: str) -> FaultRule | None:
        """The rule that fires for this request, if any; consumes a scripted rule's count."""
        with self._lock:
            chosen: FaultRule | None = None
            for rule in self._rules:
                if rule.scripted and not rule.spent and rule.matches(method, path):
                    rule.times = (rule.times or 0) - 1
                    chosen = rule
                    break
            if chosen is None:
                for rule in self._rules:
                    # Roll only for matching rules so unrelated traffic does not shift the sequence.
                    if (
                        not rule.scripted
                        and rule.probability > 0
                        and rule.matches(method, path)
                        and self._random.random() < rule.probability
                    ):
                        chosen = rule
                        break
            if chosen is not None:
                chosen.fired += 1
                self._fired[chosen.kind.value] += 1
            return chosen
