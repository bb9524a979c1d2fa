"""Attack on `make run`'s snapshot (local/persistence.py, issue 14 item 6). The snapshot is a pickle
that holds tenants' Moment keys and Fiken tokens in clear and is unpickled at the next start.
Before: it was written with the umask's mode (0644: every local user could read the tokens), and a
world-writable snapshot was unpickled as it was, so anyone able to write it ran code as the next
`make run`; the temporary file had one fixed name, shared by two runs saving at once."""

from __future__ import annotations

import os
import pickle
import stat

import pytest

from local import persistence


def snapshot() -> persistence.Snapshot:
    taken = persistence.Snapshot(
        saved_at="2026-01-01T00:00:00+00:00",
        moto={},
        physical={},
        attributes={},
        emulators={},
        demo={"webhook_url": "http://127.0.0.1:3000/webhooks/moment/demo/secret"},
    )
    taken._bytes = pickle.dumps(taken)  # type: ignore[attr-defined]
    return taken


def test_the_snapshot_is_private_to_its_owner(tmp_path):
    os.umask(0o022)
    target = tmp_path / ".local-stack" / "state.pickle"

    persistence.save(snapshot(), target)

    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert stat.S_IMODE(target.parent.stat().st_mode) == 0o700
    assert [p.name for p in target.parent.iterdir()] == ["state.pickle"]  # no temporary left behind
    assert persistence.load(target).demo["webhook_url"].endswith("/secret")


class _Planted:
    def __reduce__(self):
        return (open, (str(_Planted.marker), "w"))


def test_a_snapshot_anyone_could_write_is_not_unpickled(tmp_path):
    target = tmp_path / "state.pickle"
    _Planted.marker = tmp_path / "code-ran"
    target.write_bytes(pickle.dumps(_Planted()))
    target.chmod(0o666)

    with pytest.raises(persistence.SnapshotUnusable, match="writable by other users"):
        persistence.load(target)
    assert not _Planted.marker.exists()


def test_a_snapshot_in_a_directory_anyone_could_write_is_not_unpickled(tmp_path):
    folder = tmp_path / "shared"
    folder.mkdir()
    target = folder / "state.pickle"
    persistence.save(snapshot(), target)
    folder.chmod(0o777)  # anyone could replace the file by a rename

    with pytest.raises(persistence.SnapshotUnusable, match="writable by other users"):
        persistence.load(target)


def test_a_save_that_fails_midway_keeps_the_previous_snapshot(tmp_path, monkeypatch):
    target = tmp_path / "state.pickle"
    persistence.save(snapshot(), target)
    before = target.read_bytes()

    def broken_fsync(_fd):
        raise OSError("disk full")

    monkeypatch.setattr(persistence.os, "fsync", broken_fsync)
    with pytest.raises(OSError, match="disk full"):
        persistence.save(snapshot(), target)

    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["state.pickle"]
