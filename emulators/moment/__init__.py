"""Moment emulator: a stateful read-only Moment REST API, a webhook driver and fixture data.

- ``MomentEmulator`` (``emulators.moment.emulator``): the API on ``emulators.common``'s server.
- ``MomentWebhookDriver`` (``emulators.moment.webhook_driver``): mutates the emulator's records and
  POSTs Moment's thin webhooks; also ``python -m emulators.moment.webhook_driver``.
- ``build_dataset`` (``emulators.moment.fixtures``): deterministic Norwegian records from a seed.
"""

from emulators.moment.emulator import MomentEmulator
from emulators.moment.fixtures import MomentDataset, build_dataset, make_line

# The webhook driver is not imported here so ``python -m emulators.moment.webhook_driver`` runs cleanly.
__all__ = ["MomentDataset", "MomentEmulator", "build_dataset", "make_line"]
