"""Checks every pin of ``shared/requirements.txt`` (the layer's lock) against an advisory database.

Two sources of the same OSV advisories (https://ossf.github.io/osv-schema/):

* online: the package index's JSON API, ``{base}/{name}/{version}/json`` -> ``vulnerabilities`` (the
  source pip-audit uses by default); its base URL is given with ``--advisory-api`` or
  ``AUDIT_ADVISORY_API`` (the repository names no registry host);
* offline: ``--osv-db`` a downloaded OSV dump of the PyPI ecosystem (``PyPI/all.zip`` of OSV's public
  export, or a folder of its JSON files), for machines without access to the index's API.

When the database cannot be read the audit says so and exits 3: it never reports "no known
vulnerabilities" for a check it did not make.
"""

from __future__ import annotations

import json
import re
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

# Extras ("aws-lambda-powertools[tracer]==3.37.0", what pip-compile writes without --strip-extras) are
# part of a pin: a pattern without them skipped that package unaudited and still said "clean".
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[A-Za-z0-9._,\s-]*\])?\s*==\s*([^\s\\;]+)")


class AdvisoryDatabaseUnreachable(Exception):
    """The audit could not be made; ``str`` says why (never a pass)."""


@dataclass(frozen=True)
class Pin:
    name: str
    version: str


@dataclass(frozen=True)
class Finding:
    pin: Pin
    advisory: str
    fixed_in: tuple[str, ...]


def locked_pins(lock: Path) -> list[Pin]:
    pins = [
        Pin(canonicalize_name(m.group(1)), m.group(2))
        for m in map(_PIN.match, lock.read_text().splitlines())
        if m
    ]
    if not pins:
        raise ValueError(f"{lock} pins nothing")
    return pins


_LOOPBACK = ("localhost", "127.0.0.1", "::1")


def audit_online(pins: Iterable[Pin], api_base: str, http: httpx.Client | None = None) -> list[Finding]:
    parts = httpx.URL(api_base) if api_base else None
    if parts is None or not (parts.scheme == "https" or (parts.scheme == "http" and parts.host in _LOOPBACK)):
        # Over plain http anyone on the path can answer "no vulnerabilities": that is no audit.
        raise AdvisoryDatabaseUnreachable(f"{api_base!r} is not an https URL")
    client = http or httpx.Client(timeout=15.0)
    findings: list[Finding] = []
    for pin in pins:
        url = f"{api_base.rstrip('/')}/{pin.name}/{pin.version}/json"
        try:
            response = client.get(url)
            data = response.json() if response.status_code == 200 else None
        except (httpx.HTTPError, ValueError) as exc:
            raise AdvisoryDatabaseUnreachable(f"{url}: {type(exc).__name__}") from None
        if not isinstance(data, dict) or not isinstance(data.get("vulnerabilities"), list):
            raise AdvisoryDatabaseUnreachable(
                f"{url}: answered {response.status_code} without an advisory list"
            )
        for advisory in data["vulnerabilities"]:
            if not advisory.get("withdrawn"):
                findings.append(Finding(pin, str(advisory.get("id")), tuple(advisory.get("fixed_in") or ())))
    return findings


def audit_offline(pins: Iterable[Pin], database: Path) -> list[Finding]:
    wanted = {pin.name: pin for pin in pins}
    findings: list[Finding] = []
    # Only PyPI advisories count as "the database was read": OSV's npm dump, or JSON that is no OSV
    # record at all, checked nothing and must not report "0 known advisories".
    seen = 0
    for advisory in _osv_records(database):
        if not isinstance(advisory, dict):
            continue
        affects = [a for a in advisory.get("affected") or [] if isinstance(a, dict)]
        pypi = [a for a in affects if (a.get("package") or {}).get("ecosystem") == "PyPI"]
        seen += bool(pypi)
        if advisory.get("withdrawn"):
            continue
        for affected in pypi:
            package = affected.get("package") or {}
            pin = wanted.get(canonicalize_name(str(package.get("name", ""))))
            if pin is not None and _affects(affected, pin.version):
                findings.append(Finding(pin, str(advisory.get("id")), _fixed(affected)))
    if seen == 0:
        raise AdvisoryDatabaseUnreachable(f"{database} holds no OSV advisories for PyPI")
    return findings


def _osv_records(database: Path) -> Iterator[dict]:
    try:
        if database.is_dir():
            for path in sorted(database.glob("*.json")):
                yield json.loads(path.read_text())
        else:
            with zipfile.ZipFile(database) as dump:
                for name in dump.namelist():
                    if name.endswith(".json"):
                        yield json.loads(dump.read(name))
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise AdvisoryDatabaseUnreachable(f"{database}: {type(exc).__name__}") from None


def _affects(affected: dict, version: str) -> bool:
    if version in (affected.get("versions") or []):
        return True
    try:
        current = Version(version)
    except InvalidVersion:
        return False
    for span in affected.get("ranges") or []:
        if span.get("type") not in ("ECOSYSTEM", "SEMVER"):
            continue
        events: list[tuple[Version, str]] = []
        for event in span.get("events") or []:
            if not isinstance(event, dict) or len(event) != 1:
                continue  # OSV: exactly one of introduced / fixed / last_affected / limit
            ((kind, value),) = event.items()
            bound = Version("0") if value == "0" else _version(str(value))
            if bound is not None:
                events.append((bound, kind))
        # In version order, as OSV evaluates them: a record listing its intervals newest first
        # ([introduced 2.0, fixed 2.5, introduced 1.0, fixed 1.5]) otherwise hid 2.2 as unaffected.
        inside = False
        for bound, kind in sorted(events, key=lambda e: e[0]):
            if kind == "introduced" and current >= bound:
                inside = True
            elif (kind == "fixed" and current >= bound) or (kind == "last_affected" and current > bound):
                inside = False
        if inside:
            return True
    return False


def _version(value: str) -> Version | None:
    try:
        return Version(value)
    except InvalidVersion:
        return None


def _fixed(affected: dict) -> tuple[str, ...]:
    return tuple(
        str(event["fixed"])
        for span in affected.get("ranges") or []
        for event in span.get("events") or []
        if "fixed" in event
    )
