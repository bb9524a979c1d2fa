"""``python -m audit [--advisory-api URL | --osv-db PATH] [--lock shared/requirements.txt]``:
exit 0 no known advisory, 1 advisories found, 3 the advisory database could not be read (the audit
was NOT made)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from audit.dependencies import AdvisoryDatabaseUnreachable, audit_offline, audit_online, locked_pins

NOT_MADE = 3


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make audit", description=__doc__)
    parser.add_argument("--lock", type=Path, default=Path("shared/requirements.txt"))
    parser.add_argument(
        "--osv-db", type=Path, help="an OSV dump of PyPI (all.zip or a folder): works offline"
    )
    parser.add_argument(
        "--advisory-api",
        default=os.environ.get("AUDIT_ADVISORY_API", ""),
        help="base URL of the package index's JSON API (or AUDIT_ADVISORY_API)",
    )
    args = parser.parse_args(argv)
    pins = locked_pins(args.lock)
    named = args.advisory_api or "(none named)"
    source = f"the OSV dump {args.osv_db}" if args.osv_db else f"the advisory API {named}"
    try:
        if args.osv_db:
            findings = audit_offline(pins, args.osv_db)
        elif args.advisory_api:
            findings = audit_online(pins, args.advisory_api)
        else:
            raise AdvisoryDatabaseUnreachable("no advisory source named: --advisory-api or --osv-db")
    except AdvisoryDatabaseUnreachable as exc:
        print(
            f"DEPENDENCY AUDIT NOT MADE: {source} could not be read ({exc}). Nothing was checked. "
            "Run `make audit AUDIT_ARGS='--advisory-api URL'` where the index's JSON API is reachable, "
            "or offline with `make audit AUDIT_ARGS='--osv-db PATH'` (OSV's PyPI/all.zip export).",
            file=sys.stderr,
        )
        return NOT_MADE
    for finding in findings:
        fixed = ", ".join(finding.fixed_in) or "no fixed version"
        print(f"{finding.pin.name}=={finding.pin.version}: {finding.advisory} (fixed in {fixed})")
    print(f"{len(pins)} locked packages checked against {source}: {len(findings)} known advisories.")
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
