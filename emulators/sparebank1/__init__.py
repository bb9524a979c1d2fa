"""SpareBank 1 Regnskap (Unimicro platform) emulator: in-process or ``python -m emulators.sparebank1``.

In-process::

    sb1 = SpareBank1Emulator()                 # knobs: see SpareBank1Emulator.__init__
    base = sb1.start()                         # http://127.0.0.1:PORT (AppFramework + /identity + /files)
    company = sb1.add_company("Acme AS")       # seeded: currencies, a chart subset, SAF-T VAT types
    sb1.register_app("client-id", cert_or_public_key_pem)
    sb1.activate_app_for_company("client-id", company.key)
    # token: POST {base}/identity/connect/token with a client assertion; then calls with
    # Authorization: Bearer … and CompanyKey: company.key
    sb1.stop()

Modules: ``emulator`` (HTTP glue, admin, order of checks), ``identity`` (client-assertion tokens), ``domain``
(rules, transitions, sums, journal posting), ``store`` (tables, nested writes, rendering), ``query`` (filter,
paging), ``schema`` (entity model), ``errors`` (platform error shapes). Research summary: README.md.
"""

from emulators.sparebank1.emulator import SpareBank1Emulator
from emulators.sparebank1.store import Company

__all__ = ["Company", "SpareBank1Emulator"]
