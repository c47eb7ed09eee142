"""The store: fetch state per source, every item once per (source, id), the Hexo ledger, the site's reads.

`Store` is the protocol every backend implements (base.py); `open_store` opens the one a path or URL names.
Only this package writes SQL.
"""
from __future__ import annotations

from pathlib import Path

from ..errors import StoreVersionError
from .base import (
    Accepts,
    Counts,
    IngestRow,
    ItemKey,
    Post,
    RefilterResult,
    SiteHtml,
    SourceHealth,
    SourceState,
    Store,
    StoredItem,
    UpsertResult,
)
from .sqlite import SQLiteStore

__all__ = [
    "Accepts", "Counts", "IngestRow", "ItemKey", "Post", "RefilterResult", "SQLiteStore", "SiteHtml",
    "SourceHealth", "SourceState", "Store", "StoreVersionError", "StoredItem", "UpsertResult", "open_store",
]


def open_store(path_or_url: str | Path) -> Store:
    """The store at a file path (SQLite). PostgreSQL URLs come with issue 13."""
    if isinstance(path_or_url, str) and path_or_url.startswith(("postgresql://", "postgres://")):
        raise NotImplementedError("PostgreSQL stores are not supported yet")
    return SQLiteStore(path_or_url)
