"""The use cases' in-memory books and sync state: each test gets fresh ones."""

from __future__ import annotations

import pytest

from tests.fakes import InMemoryBooks, InMemorySyncState


@pytest.fixture
def books() -> InMemoryBooks:
    return InMemoryBooks()


@pytest.fixture
def state() -> InMemorySyncState:
    return InMemorySyncState()
