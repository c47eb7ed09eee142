"""`store_factory`: every Store implementation the contract suite runs on. Issue 13 adds PostgreSQL here."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tidings.store import SQLiteStore, Store

StoreFactory = Callable[[], Store]


@pytest.fixture(params=["sqlite"])
def store_factory(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreFactory]:
    """A callable that opens the test's store; called again, it reopens the same one."""
    opened: list[Store] = []

    def make() -> Store:
        store = SQLiteStore(tmp_path / "store.db")
        opened.append(store)
        return store

    yield make
    for s in opened:
        s.close()
