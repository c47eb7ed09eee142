"""The build's only way into the store: every read the site makes goes through `StoreReader`."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager
from typing import Any
from zoneinfo import ZoneInfo

from ...store import StoredItem
from . import queries


class StoreReader:
    """Counts, the newest-first item stream and single bodies, all inside one `snapshot()`."""

    def __init__(self, store: Any) -> None:
        self.store = store

    def snapshot(self) -> AbstractContextManager[None]:
        """One read transaction around counting and streaming, so a concurrent fetch cannot make them disagree."""
        return queries.snapshot(self.store.db)

    def counts(self, tz: ZoneInfo, heads_over: int | None) -> queries.Counts:
        return queries.count(self.store.db, tz, heads_over)

    def items(self, html: bool | str) -> Iterator[StoredItem]:
        """Published items, newest first; `html`: False (no body), True (str) or "utf-8" (undecoded bytes)."""
        return queries.iter_items(self.store.db, html=html)

    def item_html(self, source_key: str, item_id: str, limit: int | None = None) -> str:
        return queries.item_html(self.store.db, source_key, item_id, limit)
