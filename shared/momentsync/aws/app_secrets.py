"""The stack's app secrets in Secrets Manager (Fiken's OAuth app, SpareBank 1's certificate key), each read
once per cache period; never quoted in an error."""

from __future__ import annotations

import threading
import time
from typing import Any

from pydantic import ValidationError

from momentsync.connectors.fiken.oauth import PLACEHOLDER, AppSecretNotConfigured, FikenAppCredentials
from momentsync.connectors.sparebank1.auth import AppCredentials
from momentsync.errors import TransientError


class FikenAppSecret:
    """Reads the app credentials from Secrets Manager, kept in memory for ``max_age_seconds``."""

    def __init__(self, client: Any, secret_id: str, *, max_age_seconds: float = 300.0) -> None:
        self._client = client
        self._secret_id = secret_id
        self._max_age = max_age_seconds
        self._cached: tuple[float, FikenAppCredentials] | None = None
        self._lock = threading.Lock()

    def get(self, *, fresh: bool = False) -> FikenAppCredentials:
        with self._lock:
            cached = self._cached
        if cached and not fresh and time.monotonic() - cached[0] < self._max_age:
            return cached[1]
        raw = self._client.get_secret_value(SecretId=self._secret_id)["SecretString"]
        try:
            credentials = FikenAppCredentials.model_validate_json(raw)
        except ValidationError:
            # The validation error would quote the input, secret included: say only what is wrong.
            raise AppSecretNotConfigured(
                "the Fiken app secret must be JSON with client_id and client_secret"
            ) from None
        if PLACEHOLDER in (credentials.client_id, credentials.client_secret.get_secret_value()):
            raise AppSecretNotConfigured(
                "the Fiken app secret still holds the placeholder; put the app's client id and secret in it"
            )
        with self._lock:
            self._cached = (time.monotonic(), credentials)
        return credentials


class SpareBank1AppSecret:
    """Reads the app secret from Secrets Manager once per ``ttl`` (a rotated key is picked up later)."""

    def __init__(self, secretsmanager: Any, secret_id: str, *, ttl: float = 900.0) -> None:
        self._client = secretsmanager
        self._secret_id = secret_id
        self._ttl = ttl
        self._cached: tuple[float, AppCredentials] | None = None
        self._lock = threading.Lock()

    def fresh(self) -> AppCredentials:
        """Read past the cache (after the bank refused the cached key: a rotation)."""
        with self._lock:
            self._cached = None
        return self()

    def __call__(self) -> AppCredentials:
        with self._lock:
            if self._cached and self._cached[0] > time.monotonic():
                return self._cached[1]
            try:
                text = self._client.get_secret_value(SecretId=self._secret_id)["SecretString"]
            except Exception as exc:  # noqa: BLE001 - botocore errors; the class name is enough
                raise TransientError(
                    f"could not read the SpareBank 1 app secret ({type(exc).__name__})"
                ) from None
            credentials = AppCredentials.from_secret(text)
            self._cached = (time.monotonic() + self._ttl, credentials)
            return credentials
