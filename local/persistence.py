"""`make run` keeps its state across restarts: one snapshot file of moto's AWS and the emulators.

Least hand-written way: moto keeps every service's state in plain Python objects (its backends), so
the snapshot pickles those objects as they are, with the few things pickle cannot carry (locks, and
KMS's RSA keys) rebuilt on load. moto's recorder (replaying the HTTP calls) was not chosen: a replay
gives new SQS receipt handles and message ids, so recorded deletes miss and consumed events would come
back. The emulators' records are pickled the same way, attribute by attribute (their servers and
threads are started afresh).

What survives: queued and dead-lettered events, tenants, their secrets and tokens, sync state,
transfer log, parked events, audit trail; the emulated Fiken, Moment and SpareBank 1 companies,
records, OAuth clients and tokens; the demo tenants' webhook URLs. What does not: request logs, fault
plans, rate-limit windows, and events that arrive while the stack is down. Messages that were in flight
when the process died are visible again at once on restore (as after a Lambda timeout).
"""

from __future__ import annotations

import contextlib
import io
import os
import pickle
import stat
import tempfile
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from moto.backends import get_backend

from local.template import ROOT

SNAPSHOT_FILE = Path(os.environ.get("MOMENTSYNC_LOCAL_SNAPSHOT", ROOT / ".local-stack" / "state.pickle"))
FORMAT = 1
# The services the local stack creates resources in (local.aws._SUPPORTED).
MOTO_SERVICES = ("sqs", "dynamodb", "secretsmanager", "sns", "kms", "ses")
# Where each emulator keeps its records (dotted attribute paths).
EMULATOR_STATE = {
    "fiken": (
        "companies",
        "_files",
        "_ids",
        "oauth.clients",
        "oauth.grants",
        "oauth.access_tokens",
        "oauth.refresh_tokens",
    ),
    "moment": ("state.companies", "state.api_keys", "state._next_id", "state._last_stamp"),
    "sparebank1": ("companies", "_company_ids", "identity.apps", "identity.tokens", "identity._secret"),
}
_LOCK_TYPES = (type(threading.Lock()), type(threading.RLock()))


class SnapshotUnusable(RuntimeError):
    """The snapshot cannot be restored (another format, a changed emulator, a truncated file)."""


@dataclass
class Snapshot:
    saved_at: str
    moto: dict[str, Any]
    physical: dict[str, str]
    attributes: dict[tuple[str, str], str]
    emulators: dict[str, dict[str, Any]]
    # The demo's webhook URLs (shown once at creation; kept so they stay the same) and emulator ports.
    demo: dict[str, Any] = field(default_factory=dict)
    format: int = FORMAT


def _rebuild_lock(recursive: bool) -> Any:
    return threading.RLock() if recursive else threading.Lock()


def _load_private_key(pem: bytes) -> Any:
    return serialization.load_pem_private_key(pem, password=None)


def _load_public_key(pem: bytes) -> Any:
    return serialization.load_pem_public_key(pem)


class _Pickler(pickle.Pickler):
    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, _LOCK_TYPES):
            return _rebuild_lock, (isinstance(obj, type(threading.RLock())),)
        if hasattr(obj, "private_bytes") and hasattr(obj, "public_key"):
            pem = obj.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
            return _load_private_key, (pem,)
        if hasattr(obj, "public_bytes") and hasattr(obj, "verify"):
            pem = obj.public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            return _load_public_key, (pem,)
        return NotImplemented


def _get(obj: Any, path: str) -> Any:
    for part in path.split("."):
        obj = getattr(obj, part)
    return obj


def _set(obj: Any, path: str, value: Any) -> None:
    *parents, last = path.split(".")
    for part in parents:
        obj = getattr(obj, part)
    setattr(obj, last, value)


def take(stack: Any, emulators: dict[str, Any], demo: dict[str, Any]) -> Snapshot:
    """A snapshot of the running stack; call with the pollers stopped or between their calls."""
    from local.aws import _AWS_LOCK  # held by every SQS and DynamoDB call: nothing moves mid-copy

    if stack.config.aws_process:
        raise SnapshotUnusable("moto runs in its own process: its state cannot be saved from here")

    emulator_state: dict[str, dict[str, Any]] = {}
    for name, emulator in emulators.items():
        with emulator.lock if hasattr(emulator, "lock") else threading.Lock():
            emulator_state[name] = {path: _get(emulator, path) for path in EMULATOR_STATE[name]}
    with _AWS_LOCK:
        moto = {service: dict(get_backend(service)) for service in MOTO_SERVICES}  # type: ignore[call-overload]
        snapshot = Snapshot(
            saved_at=datetime.now(UTC).isoformat(timespec="seconds"),
            moto=moto,
            physical=dict(stack.names.physical),
            attributes=dict(stack.names.attributes),
            emulators=emulator_state,
            demo=dict(demo),
        )
        # Serialised under the lock: the objects are live and would change while being pickled.
        buffer = io.BytesIO()
        _Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(snapshot)
    snapshot._bytes = buffer.getvalue()  # type: ignore[attr-defined]
    return snapshot


def save(snapshot: Snapshot, path: Path = SNAPSHOT_FILE) -> None:
    """Written to a temporary file and renamed: a kill mid-write leaves the previous snapshot.

    The file holds tenants' Moment keys and Fiken tokens in clear and is unpickled on the next start:
    it is readable and writable by its owner only (0600, in a 0700 directory), its temporary file is
    unique (two runs saving at once never rename each other's half-written file) and flushed to disk
    before the rename.
    """
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with contextlib.suppress(PermissionError):
        os.chmod(path.parent, 0o700)  # also a directory made by an older version with the umask's mode
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(snapshot._bytes)  # type: ignore[attr-defined]
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, 0o600)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


def _check_private(path: Path) -> None:
    """Unpickling runs code: refuse a file (or its directory) another user owns or anyone may write."""
    for target in (path, path.parent):
        info = target.stat()
        if hasattr(os, "getuid") and info.st_uid != os.getuid():
            raise SnapshotUnusable(f"{target} belongs to another user; not loaded (delete it or use --fresh)")
        if info.st_mode & stat.S_IWOTH:
            raise SnapshotUnusable(
                f"{target} is writable by other users; not loaded (unpickling it could run their code)"
            )


def load(path: Path = SNAPSHOT_FILE) -> Snapshot | None:
    """The saved snapshot, None when there is none; ``SnapshotUnusable`` when it cannot be read."""
    if not path.exists():
        return None
    _check_private(path)
    try:
        snapshot = pickle.loads(path.read_bytes())  # noqa: S301 - our own file, private (checked above)
    except Exception as exc:  # noqa: BLE001 - any unreadable snapshot is reported the same way
        raise SnapshotUnusable(f"{path} cannot be read ({type(exc).__name__})") from None
    if not isinstance(snapshot, Snapshot) or snapshot.format != FORMAT:
        raise SnapshotUnusable(f"{path} was written by another version")
    return snapshot


def restore_aws(snapshot: Snapshot) -> None:
    """Puts the saved backends in place of moto's (call after the server started, before any use)."""
    for service, accounts in snapshot.moto.items():
        live = get_backend(service)  # type: ignore[call-overload]
        for account_id, regions in accounts.items():
            live[account_id] = regions
    # Whatever was in flight when the process stopped is visible again, as after a Lambda timeout.
    for regions in snapshot.moto.get("sqs", {}).values():
        for backend in regions.values():
            for queue in backend.queues.values():
                queue.pending_messages.clear()
                for message in queue._messages:
                    message.visible_at = 0


def restore_emulators(snapshot: Snapshot, emulators: dict[str, Any]) -> None:
    for name, emulator in emulators.items():
        saved = snapshot.emulators.get(name)
        if saved is None or set(saved) != set(EMULATOR_STATE[name]):
            raise SnapshotUnusable(f"the snapshot has no usable {name} emulator state")
        for path, value in saved.items():
            _set(emulator, path, value)
