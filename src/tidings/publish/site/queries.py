"""Deprecated: the site's reads are Store methods now (store.site_counts, iter_site_items, item_html,
snapshot). These wrappers take the store, or its `db` as the site code still passes, and delegate; there is
no SQL here. Remove them once publish/site calls the store directly."""
from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import AbstractContextManager
from zoneinfo import ZoneInfo

from ...store import Counts, SiteHtml, SQLiteStore, Store, StoredItem

__all__ = ["Counts", "count", "item_html", "iter_items", "snapshot"]


def _store(store_or_db: Store | sqlite3.Connection) -> Store:
    if isinstance(store_or_db, sqlite3.Connection):
        return SQLiteStore.owning(store_or_db)
    return store_or_db


def count(store_or_db: Store | sqlite3.Connection, tz: ZoneInfo, heads_over: int | None = None) -> Counts:
    """Store.site_counts."""
    return _store(store_or_db).site_counts(tz, heads_over)


def iter_items(store_or_db: Store | sqlite3.Connection, html: SiteHtml = True) -> Iterator[StoredItem]:
    """Store.iter_site_items."""
    return _store(store_or_db).iter_site_items(html)


def item_html(store_or_db: Store | sqlite3.Connection, source_key: str, item_id: str,
              limit: int | None = None) -> str:
    """Store.item_html."""
    return _store(store_or_db).item_html(source_key, item_id, limit)


def snapshot(store_or_db: Store | sqlite3.Connection) -> AbstractContextManager[None]:
    """Store.snapshot."""
    return _store(store_or_db).snapshot()
