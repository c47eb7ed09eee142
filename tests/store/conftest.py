"""`store_factory`: every Store implementation the contract suite runs on: SQLite and PostgreSQL (a fresh
database per test on the session's throwaway cluster, tests/conftest.py)."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tidings.store import Store, open_store

StoreFactory = Callable[[], Store]


@pytest.fixture(params=["sqlite", "postgres"])
def store_location(request: pytest.FixtureRequest, tmp_path: Path) -> str | Path:
    """Where the test's store lives: a SQLite file, or the URL of a fresh PostgreSQL database."""
    if request.param == "postgres":
        return str(request.getfixturevalue("pg_url"))
    return tmp_path / "store.db"


@pytest.fixture
def store_factory(store_location: str | Path) -> Iterator[StoreFactory]:
    """A callable that opens the test's store; called again, it reopens the same one."""
    opened: list[Store] = []

    def make() -> Store:
        store = open_store(store_location)
        opened.append(store)
        return store

    yield make
    for s in opened:
        s.close()

