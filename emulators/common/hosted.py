"""What every emulator exposes about its server: lifecycle, URL, faults, request log, latency."""

from __future__ import annotations

from typing import Self

from emulators.common.faults import FaultPlan
from emulators.common.request_log import RequestLog
from emulators.common.server import EmulatorServer


class HostedEmulator:
    """Delegates to ``self.server`` (an ``EmulatorServer`` the subclass builds in ``__init__``)."""

    server: EmulatorServer

    def start(self) -> str:
        return self.server.start()

    def stop(self) -> None:
        self.server.stop()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        return self.server.base_url

    @property
    def fault_plan(self) -> FaultPlan:
        return self.server.fault_plan

    @property
    def request_log(self) -> RequestLog:
        return self.server.request_log

    @property
    def latency(self) -> float:
        return self.server.latency

    @latency.setter
    def latency(self, seconds: float) -> None:
        self.server.latency = seconds
