"""Shared base for the in-process HTTP emulators (Fiken, Moment, SpareBank 1).

Stable, small API (import from ``emulators.common``):

- ``EmulatorServer(handler, *, host="127.0.0.1", port=0, fault_plan=None, request_log=None,
  latency=0.0, admin_routes=None, name="emulator")``: ``start() -> base_url``, ``stop()``,
  context manager; attributes ``base_url``, ``latency`` (seconds, settable), ``fault_plan``,
  ``request_log``, ``admin_routes`` (``GET /_emulator/<name>`` answers ``json(producer())``;
  ``requests`` and ``faults`` are built in). See ``emulators.common.server`` for the pipeline.
- ``Request`` (method, path, query ``{name: [values]}``, headers, body bytes, base_url;
  ``header()``, ``query_value()``, ``json()``, ``content_type``, ``url``) and ``Response``
  (status, body, headers, ``on_sent`` callbacks; ``Response.json/empty/text``).
- ``FaultPlan(seed=0)``: ``script(kind, times=1, method="*", path=regex, status=, body=,
  seconds=)``, ``sometimes(kind, probability, ...)``, ``add(FaultRule)``, ``clear()``, ``fired()``
  (counts by kind). Kinds ``FaultKind``: ``status``, ``timeout``, ``drop_after_apply``, ``slow``.
- ``RequestLog``: ``entries()``, ``find(method, path_contains)``, ``clear()``; entries are
  ``LoggedRequest`` with ``Authorization`` redacted.

- ``hosted.HostedEmulator``: the lifecycle and server properties every emulator exposes
  (``start/stop``, context manager, ``base_url``, ``fault_plan``, ``request_log``, ``latency``).

Everything is thread-safe.
"""

from emulators.common.faults import FaultKind, FaultPlan, FaultRule
from emulators.common.request_log import LoggedRequest, RequestLog, redact_headers
from emulators.common.server import EmulatorServer, Request, Response

__all__ = [
    "EmulatorServer",
    "FaultKind",
    "FaultPlan",
    "FaultRule",
    "LoggedRequest",
    "Request",
    "RequestLog",
    "Response",
    "redact_headers",
]
