"""Request log: what an emulator received and how it answered, for tests to assert on.

Each ``LoggedRequest`` holds method, path, query (``{name: [values]}``), request headers (the value
of ``Authorization`` and the other names in ``REDACTED_HEADERS`` replaced by its scheme plus
``[REDACTED]``, so no token reaches a log), the JSON body when the request carried JSON (else
``None``; form and multipart bodies are never kept, they can carry OAuth codes and files), body
size, status (``None`` when the connection was closed without an answer), outcome (``answered``,
``dropped`` or ``timed_out``), the fault kind fired if any, start time (epoch seconds) and duration
(seconds).

Thread-safe; bounded (oldest entries fall off after ``max_entries``).
"""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

REDACTED_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "set-cookie"})


def redact_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """A copy of ``headers`` whose credentials are replaced (the auth scheme is kept, it helps debugging)."""
    redacted: dict[str, str] = {}
    for name, value in headers.items():
        if name.lower() in REDACTED_HEADERS:
            scheme = value.split(" ", 1)[0] if " " in value else ""
            redacted[name] = f"{scheme} [REDACTED]".strip()
        else:
            redacted[name] = value
    return redacted


def json_body_or_none(content_type: str, body: bytes) -> Any:
    if not body or "json" not in content_type.lower():
        return None
    try:
        return json.loads(body)
    except ValueError:
        return None


@dataclass
class LoggedRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    json: Any
    body_size: int
    started_at: float
    status: int | None = None
    outcome: str = "answered"
    fault: str | None = None
    duration: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class RequestLog:
    def __init__(self, max_entries: int = 10_000) -> None:
        self._lock = threading.Lock()
        self._entries: deque[LoggedRequest] = deque(maxlen=max_entries)

    def append(self, entry: LoggedRequest) -> None:
        with self._lock:
            self._entries.append(entry)

    def entries(self, predicate: Callable[[LoggedRequest], bool] | None = None) -> list[LoggedRequest]:
        with self._lock:
            items = list(self._entries)
        return [entry for entry in items if predicate is None or predicate(entry)]

    def find(self, method: str | None = None, path_contains: str | None = None) -> list[LoggedRequest]:
        """Entries with this method (any when ``None``) whose path contains ``path_contains``."""
        return self.entries(
            lambda e: (
                (method is None or e.method == method.upper())
                and (path_contains is None or path_contains in e.path)
            )
        )

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)
