"""``python -m emulators.sparebank1 --port 8083``: the SpareBank 1 emulator as a process (until Ctrl-C)."""

from __future__ import annotations

import argparse
import signal
import threading
from pathlib import Path

from emulators.sparebank1.emulator import SpareBank1Emulator


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m emulators.sparebank1", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8083)
    parser.add_argument("--company", default="Acme AS", help="name of the company to create")
    parser.add_argument("--company-key", help="its CompanyKey GUID (default: a fixed test GUID)")
    parser.add_argument("--client-id", help="server client to register and activate for the company")
    parser.add_argument("--certificate", type=Path, help="PEM certificate or public key of that client")
    parser.add_argument("--token-lifetime", type=float, default=3600.0, help="access token lifetime, seconds")
    parser.add_argument("--rate-limit", type=float, help="requests per second per token (default: none)")
    args = parser.parse_args(argv)

    emulator = SpareBank1Emulator(
        host=args.host,
        port=args.port,
        token_lifetime=args.token_lifetime,
        rate_limit_per_second=args.rate_limit,
    )
    company = emulator.add_company(args.company, key=args.company_key)
    if args.client_id:
        if not args.certificate:
            parser.error("--client-id needs --certificate")
        emulator.register_app(args.client_id, args.certificate.read_bytes())
        emulator.activate_app_for_company(args.client_id, company.key)
    base = emulator.start()
    print(
        f"SpareBank 1 emulator: API {base}/api/biz, identity {base}/identity, CompanyKey {company.key}, "
        f"admin {base}/_emulator/state",
        flush=True,
    )
    stopped = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stopped.set())
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    stopped.wait()
    emulator.stop()


if __name__ == "__main__":
    main()
