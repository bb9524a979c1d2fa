"""``python -m audit [--osv-db PATH] [--lock shared/requirements.txt]``: exit 0 no known advisory,
1 advisories found, 3 the advisory database could not be read (the audit was NOT made)."""

from __future__ import annotations

import argparse
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
    args = parser.parse_args(argv)
    pins = locked_pins(args.lock)
    source = f"the OSV dump {args.osv_db}" if args.osv_db else "PyPI's advisory API"
    try:
        findings = audit_offline(pins, args.osv_db) if args.osv_db else audit_online(pins)
    except AdvisoryDatabaseUnreachable as exc:
        print(
            f"DEPENDENCY AUDIT NOT MADE: {source} could not be read ({exc}). Nothing was checked. "
            "Run `make audit` where pypi.org is reachable, or offline with "
            "`make audit AUDIT_ARGS='--osv-db PATH'` "
            "(PyPI/all.zip from osv-vulnerabilities.storage.googleapis.com).",
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
