"""Attacks on ``make audit``'s promise "never a silent pass" (#20): an offline database that is an OSV
dump, but of another ecosystem, or whose records are not OSV advisories, was reported as checked."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest
import respx

from audit.__main__ import NOT_MADE, main

ROOT = Path(__file__).resolve().parents[2]
LOCK = ROOT / "shared" / "requirements.txt"


def _zip(tmp_path: Path, *records: object) -> Path:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for index, record in enumerate(records):
            archive.writestr(f"{index}.json", json.dumps(record))
    path = tmp_path / "all.zip"
    path.write_bytes(buffer.getvalue())
    return path


def _npm(name: str) -> dict:
    return {
        "id": f"GHSA-npm-{name}",
        "affected": [
            {
                "package": {"ecosystem": "npm", "name": name},
                "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}]}],
            }
        ],
    }


@pytest.mark.parametrize(
    "records",
    [
        # OSV's npm/all.zip (the wrong file downloaded): thousands of advisories, none for PyPI.
        [_npm("lodash"), _npm("express")],
        # JSON that is no OSV record at all.
        [[], "advisory", 42, {"schema_version": "1.6.0"}],
    ],
    ids=["another-ecosystems-dump", "not-osv-records"],
)
def test_an_offline_database_holding_no_pypi_advisory_is_never_a_pass(tmp_path, capsys, records):
    assert main(["--lock", str(LOCK), "--osv-db", str(_zip(tmp_path, *records))]) == NOT_MADE
    captured = capsys.readouterr()
    assert "DEPENDENCY AUDIT NOT MADE" in captured.err
    assert "known advisories" not in captured.out


def test_a_malformed_range_in_one_advisory_is_not_a_crash_read_as_findings(tmp_path, capsys):
    """An empty event ({}) made the unpacking raise: a traceback and exit 1, which reads "advisories"."""
    broken = {
        "id": "GHSA-broken",
        "affected": [
            {
                "package": {"ecosystem": "PyPI", "name": "httpx"},
                "ranges": [{"type": "ECOSYSTEM", "events": [{}, {"introduced": "0"}, {"fixed": "0.1"}]}],
            }
        ],
    }
    assert main(["--lock", str(LOCK), "--osv-db", str(_zip(tmp_path, broken))]) == 0
    assert "0 known advisories" in capsys.readouterr().out


@pytest.mark.parametrize(
    "api", ["http://advisories.example/pypi", "ftp://advisories.example/pypi", "advisories.example/pypi"]
)
def test_an_advisory_api_anyone_on_the_path_could_answer_is_never_a_pass(capsys, api):
    """Over plain http a proxy or captive portal answering {"vulnerabilities": []} made a clean audit."""
    with respx.mock(assert_all_called=False) as mock:
        clean = mock.get(url__regex=r".*").respond(200, json={"vulnerabilities": []})
        assert main(["--lock", str(LOCK), "--advisory-api", api]) == NOT_MADE
    assert clean.call_count == 0
    assert "DEPENDENCY AUDIT NOT MADE" in capsys.readouterr().err


def test_a_loopback_advisory_mirror_over_http_is_still_read():
    with respx.mock() as mock:
        mock.get(url__regex=r"http://127\.0\.0\.1:8080/pypi/.*").respond(200, json={"vulnerabilities": []})
        assert main(["--lock", str(LOCK), "--advisory-api", "http://127.0.0.1:8080/pypi"]) == 0


def test_a_range_listing_its_intervals_newest_first_still_finds_the_affected_version(tmp_path):
    from audit.dependencies import Pin, audit_offline

    record = {
        "id": "GHSA-two-intervals",
        "affected": [
            {
                "package": {"ecosystem": "PyPI", "name": "httpx"},
                "ranges": [
                    {
                        "type": "ECOSYSTEM",
                        "events": [
                            {"introduced": "2.0"},
                            {"fixed": "2.5"},
                            {"introduced": "1.0"},
                            {"fixed": "1.5"},
                        ],
                    }
                ],
            }
        ],
    }
    database = _zip(tmp_path, record)
    hits = {v: bool(audit_offline([Pin("httpx", v)], database)) for v in ("0.9", "1.2", "1.7", "2.2", "2.6")}
    assert hits == {"0.9": False, "1.2": True, "1.7": False, "2.2": True, "2.6": False}


def test_a_pin_with_extras_is_audited_not_skipped(tmp_path):
    """pip-compile without --strip-extras writes "aws-lambda-powertools[tracer]==3.37.0": that line was
    not read as a pin, so the package was never checked and the audit said clean."""
    from audit.dependencies import locked_pins

    lock = tmp_path / "requirements.txt"
    lock.write_text(
        "aws-lambda-powertools[tracer]==3.37.0 \\\n    --hash=sha256:00\n"
        "httpx == 0.28.1\nPyJWT[crypto]==2.15.1\n"
    )
    pins = {(p.name, p.version) for p in locked_pins(lock)}
    assert pins == {("aws-lambda-powertools", "3.37.0"), ("httpx", "0.28.1"), ("pyjwt", "2.15.1")}
    hit = _zip(
        tmp_path,
        {
            "id": "GHSA-powertools",
            "affected": [
                {
                    "package": {"ecosystem": "PyPI", "name": "aws-lambda-powertools"},
                    "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "9.0"}]}],
                }
            ],
        },
    )
    assert main(["--lock", str(lock), "--osv-db", str(hit)]) == 1
