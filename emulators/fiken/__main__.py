"""``python -m emulators.fiken --port 8081``: the Fiken emulator as a process (until Ctrl-C)."""

from __future__ import annotations

import argparse
import signal
import threading

from emulators.fiken.emulator import FikenEmulator


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m emulators.fiken", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument(
        "--company", action="append", help="company slug to create (repeatable; default acme-as)"
    )
    parser.add_argument("--client-id", help="OAuth client to register")
    parser.add_argument("--client-secret", help="its secret")
    parser.add_argument("--redirect-uri", action="append", default=[], help="its redirect URI (repeatable)")
    parser.add_argument(
        "--personal-token", help="a bearer token value to accept for all companies, never expiring"
    )
    parser.add_argument(
        "--token-lifetime", type=float, default=86157.0, help="access token lifetime, seconds"
    )
    parser.add_argument("--no-contract", action="store_true", help="do not validate against the OpenAPI spec")
    parser.add_argument(
        "--no-rate-limit", action="store_true", help="turn the 1-in-flight / 4-per-second rule off"
    )
    args = parser.parse_args(argv)

    fiken = FikenEmulator(
        host=args.host,
        port=args.port,
        validate_contract=not args.no_contract,
        rate_limit=not args.no_rate_limit,
        access_token_lifetime=args.token_lifetime,
    )
    for slug in args.company or ["acme-as"]:
        fiken.add_company(slug)
    if args.client_id:
        fiken.register_client(args.client_id, args.client_secret or "", args.redirect_uri)
    if args.personal_token:
        fiken.add_personal_token(args.personal_token)
    base = fiken.start()
    print(f"Fiken emulator: API {base}/api/v2, OAuth {base}/oauth, admin {base}/_emulator/state", flush=True)
    stopped = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stopped.set())
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    stopped.wait()
    fiken.stop()


if __name__ == "__main__":
    main()
