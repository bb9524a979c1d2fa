"""The layer's lock pins every transitive dependency with hashes, and ``make audit`` never passes a
check it could not make (#20)."""

from __future__ import annotations

import io
import json
import re
import zipfile
from pathlib import Path

import httpx
import pytest
import respx
from packaging.utils import canonicalize_name

from audit.__main__ import NOT_MADE, main
from audit.dependencies import Pin, audit_offline, audit_online, locked_pins

ROOT = Path(__file__).resolve().parents[2]
LOCK = ROOT / "shared" / "requirements.txt"


def test_the_lock_pins_every_direct_dependency_at_its_version_and_every_pin_has_hashes():
    direct = {
        canonicalize_name(re.split(r"[\[=]", line)[0]): line.split("==")[1].strip()
        for line in (ROOT / "shared" / "requirements.in").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    pins = {pin.name: pin.version for pin in locked_pins(LOCK)}
    assert {name: pins.get(name) for name in direct} == direct
    assert len(pins) > len(direct)  # the transitive ones too
    body = "\n".join(line for line in LOCK.read_text().splitlines() if not line.startswith("#"))
    entries = [e for e in re.split(r"\n(?=[a-z0-9])", body.strip()) if e]
    assert len(entries) == len(pins)
    for entry in entries:
        assert "--hash=sha256:" in entry, entry.splitlines()[0]
    assert "/opt/" not in LOCK.read_text() and "--find-links" not in LOCK.read_text()


def advisory(name: str, events: list[dict], osv_id: str = "GHSA-test") -> dict:
    return {
        "id": osv_id,
        "affected": [
            {
                "package": {"ecosystem": "PyPI", "name": name},
                "ranges": [{"type": "ECOSYSTEM", "events": events}],
            }
        ],
    }


def dump(tmp_path: Path, *advisories: dict) -> Path:
    path = tmp_path / "all.zip"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for index, item in enumerate(advisories):
            archive.writestr(f"{index}.json", json.dumps(item))
    path.write_bytes(buffer.getvalue())
    return path


def test_offline_audit_finds_an_advisory_by_range_and_ignores_fixed_versions(tmp_path):
    pins = [Pin("httpx", "0.28.1"), Pin("pyjwt", "2.15.1")]
    database = dump(
        tmp_path,
        advisory("HTTPX", [{"introduced": "0"}, {"fixed": "0.29.0"}], "GHSA-hit"),
        advisory("PyJWT", [{"introduced": "2.0.0"}, {"fixed": "2.10.0"}], "GHSA-fixed"),
        advisory("other", [{"introduced": "0"}]),
    )
    [finding] = audit_offline(pins, database)
    assert (finding.pin.name, finding.advisory, finding.fixed_in) == ("httpx", "GHSA-hit", ("0.29.0",))


def test_make_audit_exits_1_on_a_finding_and_0_when_clean(tmp_path, capsys):
    hit = dump(tmp_path, advisory("cryptography", [{"introduced": "0"}, {"last_affected": "50.0.2"}]))
    assert main(["--lock", str(LOCK), "--osv-db", str(hit)]) == 1
    assert "cryptography==50.0.2" in capsys.readouterr().out
    clean = tmp_path / "clean"
    clean.mkdir()
    (clean / "a.json").write_text(
        json.dumps(advisory("cryptography", [{"introduced": "0"}, {"fixed": "1.0"}]))
    )
    assert main(["--lock", str(LOCK), "--osv-db", str(clean)]) == 0


@pytest.mark.parametrize("database", ["missing.zip", "empty-dir"])
def test_an_unreadable_offline_database_is_never_a_pass(tmp_path, capsys, database):
    path = tmp_path / database
    if database == "empty-dir":
        path.mkdir()
    assert main(["--lock", str(LOCK), "--osv-db", str(path)]) == NOT_MADE
    assert "DEPENDENCY AUDIT NOT MADE" in capsys.readouterr().err


@respx.mock
def test_an_unreachable_advisory_api_is_never_a_pass(capsys):
    respx.get(url__regex=r"https://advisories\.example/pypi/.*").mock(
        side_effect=httpx.ConnectError("offline")
    )
    assert main(["--lock", str(LOCK), "--advisory-api", "https://advisories.example/pypi"]) == NOT_MADE
    assert "Nothing was checked" in capsys.readouterr().err


@respx.mock
def test_online_audit_reads_pypis_advisories():
    respx.get("https://advisories.example/pypi/httpx/0.28.1/json").respond(
        200,
        json={"vulnerabilities": [{"id": "PYSEC-1", "fixed_in": ["0.29"]}, {"id": "old", "withdrawn": "x"}]},
    )
    respx.get("https://advisories.example/pypi/h11/0.16.0/json").respond(200, json={"vulnerabilities": []})
    findings = audit_online([Pin("httpx", "0.28.1"), Pin("h11", "0.16.0")], "https://advisories.example/pypi")
    assert [(f.pin.name, f.advisory, f.fixed_in) for f in findings] == [("httpx", "PYSEC-1", ("0.29",))]


def test_no_advisory_source_named_is_never_a_pass(capsys, monkeypatch):
    monkeypatch.delenv("AUDIT_ADVISORY_API", raising=False)
    assert main(["--lock", str(LOCK)]) == NOT_MADE
    assert "no advisory source named" in capsys.readouterr().err
