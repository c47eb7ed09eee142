"""The store: fetch state per source, every item once per (source, id), the Hexo ledger, the site's reads.

`Store` is the protocol every backend implements (base.py); `open_store` opens the one a path or URL names.
Only this package writes SQL.
"""
from __future__ import annotations

from pathlib import Path

from ..errors import StoreFormatError, StoreVersionError
from .base import (
    ALL_ITEMS,
    Accepts,
    Counts,
    GroupedItem,
    IngestRow,
    ItemFilter,
    ItemKey,
    ItemRef,
    Post,
    RefilterResult,
    SiteBuild,
    SiteChange,
    SiteFile,
    SiteFileRow,
    SiteHtml,
    SourceHealth,
    SourcePath,
    SourceState,
    Store,
    StoredItem,
    StoryCandidate,
    StoryMember,
    StoryUpdates,
    Ungrouped,
    UpsertResult,
    in_story_order,
)
from .sqlite import SQLiteStore

__all__ = [
    "ALL_ITEMS", "Accepts", "Counts", "GroupedItem", "IngestRow", "ItemFilter", "ItemKey", "ItemRef", "Post",
    "RefilterResult",
    "SQLiteStore", "SiteBuild", "SiteChange", "SiteFile", "SiteFileRow", "SiteHtml", "SourcePath",
    "SourceHealth", "SourceState", "Store", "StoreFormatError", "StoreVersionError", "StoredItem", "StoryCandidate",
    "StoryMember",
    "StoryUpdates", "Ungrouped", "UpsertResult", "in_story_order", "is_url", "open_store",
]


URL_SCHEMES = ("postgresql://", "postgres://")


def is_url(path_or_url: str | Path) -> bool:
    """Whether the store is a PostgreSQL URL (else a SQLite file path)."""
    return isinstance(path_or_url, str) and path_or_url.startswith(URL_SCHEMES)


def open_store(path_or_url: str | Path) -> Store:
    """The store a PostgreSQL URL (postgresql://…) or a SQLite file path names."""
    if is_url(path_or_url):
        from .postgres import PostgresStore  # psycopg is imported only when a database is used

        return PostgresStore(str(path_or_url))
    return SQLiteStore(path_or_url)
