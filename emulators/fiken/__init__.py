"""Fiken API v2 emulator (stateful, in-process or ``python -m emulators.fiken --port 8081``).

In-process::

    fiken = FikenEmulator()            # knobs: see FikenEmulator.__init__
    base = fiken.start()               # http://127.0.0.1:PORT
    fiken.add_company("acme-as")       # VAT registered, project module, counter 10000, verified 1920:10001
    tokens = fiken.issue_tokens(["acme-as"])
    # API at base + "/api/v2", OAuth at base + "/oauth/{authorize,token,revoke}"
    fiken.stop()

Modules: ``emulator`` (glue, admin, order of checks), ``api`` (routes), ``oauth``, ``rate_rule``,
``money`` (amounts and rounding), ``state`` (records), ``contract`` (OpenAPI checks).
"""

from emulators.fiken.emulator import BankAccountSeed, FikenEmulator

__all__ = ["BankAccountSeed", "FikenEmulator"]
