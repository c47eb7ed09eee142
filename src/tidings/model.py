"""The one intermediate every stage speaks: Source in, FetchResult out of fetch, Entry out of parse.

Times are timezone-aware UTC datetimes; everything a publisher needs about an item is on Entry.
The bottom layer: it imports nothing of tidings but the exception tree (errors.py), which it re-exports.
"""
from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Protocol

from .errors import (
    BlockedAddress,
    CatalogError,
    ConfigError,
    DecodeError,
    FetchError,
    FilterError,
    LockBusy,
    ParseError,
    RulesError,
    TidingsError,
    UsageError,
)

__all__ = [
    "BlockedAddress", "CatalogError", "ConfigError", "DecodeError", "Entry", "EntryFilter", "FetchError",
    "FetchResult", "FilterError", "ItemState", "LockBusy", "OutcomeStatus", "ParseError", "RulesError", "Source",
    "TidingsError", "UsageError", "item_id",
]


class ItemState(StrEnum):
    """What the store holds an item as. Values are the strings stored in the database."""

    PUBLISHED = "published"
    FILTERED = "filtered"  # kept out by the source's include/exclude filters; re-checked when they change
    DELETED = "deleted"  # a tombstone: never comes back
    PRUNED = "pruned"  # removed by retention; a tombstone too


class OutcomeStatus(StrEnum):
    """What happened to one source in one run."""

    NEW = "new"  # fetched and stored (possibly nothing new)
    NOT_MODIFIED = "not-modified"  # 304
    FAILED = "failed"
    WAITING = "waiting"  # not due yet
    BACKOFF = "backoff"  # not due yet, and failing: still reported as failing


class EntryFilter(Protocol):
    """What a source's include/exclude filter offers (filters.ItemFilter); model does not import filters."""

    @property
    def active(self) -> bool: ...

    @property
    def fingerprint(self) -> str: ...

    def accepts(self, *, title: str = "", content: str = "", author: str = "", link: str = "",
                categories: Iterable[str] = ()) -> bool: ...


@dataclass(slots=True)
class Source:
    """One feed as configured. `key` is its identity in the store: the resolved feed URL."""

    url: str
    category: str
    source: str
    channel: str
    limit: int = 15
    timezone: str = "UTC"
    full_text: bool | str = False  # False | True | "auto"
    retain_days: float | None = None  # prune items published longer ago than this
    retain_per_source: int | None = None  # keep only the newest N items of this source
    item_filter: EntryFilter | None = None  # None = publish everything

    @property
    def key(self) -> str:
        return self.url

    @property
    def categories(self) -> list[str]:
        """Category path for publishing: category › source › channel, empty levels dropped."""
        return [c for c in (self.category, self.source, self.channel) if c]

    @property
    def label(self) -> str:
        return " › ".join(self.categories) or self.url


@dataclass(slots=True)
class FetchResult:
    source: Source
    status: int = 0  # HTTP status of the final response; 0 when no response came
    body: bytes = b""
    content_type: str = ""
    etag: str | None = None
    last_modified: str | None = None
    not_modified: bool = False
    error: str | None = None  # a short human reason when the fetch failed
    retry_after: float | None = None  # seconds the server asked us to wait (429/503 Retry-After)
    final_url: str = ""
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(slots=True)
class Entry:
    """One normalised feed item."""

    source_key: str
    id: str  # 16 lowercase hex, stable across runs
    title: str
    link: str = ""
    guid: str = ""
    author: str = ""
    published: datetime | None = None  # None = the feed gave no date; the store uses first-seen
    updated: datetime | None = None
    content: str = ""  # item HTML as the feed gave it; the cleaned HTML is stored beside it
    cover: str = ""  # cover image URL, '' when none
    cover_explicit: bool = False  # the feed named it (enclosure, media:thumbnail, JSON image)
    tags: list[str] = field(default_factory=list)
    base: str = ""  # base URL for resolving relative links (xml:base, else item link, else feed link)
    # (content, its UTF-8) when parse had the feed's bytes of it (a CDATA section): the store hashes and binds those
    # bytes rather than encoding the text again. Kept with the very str they encode, so they are used only while
    # `content` is still that str (content_utf8_bytes) and no one has to keep the two in step.
    content_utf8: tuple[str, bytes] | None = field(default=None, compare=False, repr=False)

    def content_utf8_bytes(self) -> bytes | None:
        """The content's UTF-8 if parse kept it for the content the entry holds now, else None."""
        kept = self.content_utf8
        return kept[1] if kept is not None and kept[0] is self.content else None

    def content_hash(self, content_utf8: bytes | None = None) -> str:
        """Hash of what a reader sees: a changed hash means the post must be rewritten. `content_utf8`: the
        content's UTF-8, when the caller has encoded it already (the SQLite store binds those bytes too)."""
        # Each part followed by a NUL, then the date. UTF-8 of a join is the join of the parts' UTF-8s, so the
        # content's bytes go in between the rest's as they are; else all is joined and encoded once.
        date = isoformat(self.published) if self.published else ""
        head = "\x00".join((self.title, self.link, self.author, ""))
        tail = "\x00".join(("", self.cover, "\x1f".join(self.tags), date))
        if content_utf8 is None:
            return hashlib.sha256((head + self.content + tail).encode("utf-8", "surrogatepass")).hexdigest()[:32]
        h = hashlib.sha256(head.encode("utf-8", "surrogatepass"))
        h.update(content_utf8)
        h.update(tail.encode("utf-8", "surrogatepass"))
        return h.hexdigest()[:32]


TWO_DIGITS = tuple(f"{n:02d}" for n in range(100))


def isoformat(dt: datetime) -> str:
    """dt.isoformat() in half its instructions for the datetimes parse makes (UTC, whole seconds, a year from 1000
    on), once an item: the method formats through PyUnicode_FromFormat and asks the zone for its offset."""
    if dt.tzinfo is UTC and not dt.microsecond and dt.year >= 1000:
        return (f"{dt.year}-{TWO_DIGITS[dt.month]}-{TWO_DIGITS[dt.day]}T{TWO_DIGITS[dt.hour]}:"
                f"{TWO_DIGITS[dt.minute]}:{TWO_DIGITS[dt.second]}+00:00")
    return dt.isoformat()


def item_id(guid: str = "", link: str = "", title: str = "", date: str = "", content: str = "") -> str:
    """16 hex characters from the guid, else the link, else title + date + content (SPEC §9).

    Items with neither guid nor link are told apart by their text as well: description-only items that
    share a date (status feeds stamp one date, or only a day) would otherwise share one id and collapse
    into one. An undated item's basis is the one used before the date joined it, so its id is unchanged.
    """
    basis = guid.strip() or link.strip() or f"{title}\x00{date.strip()}\x00{content}"
    return hashlib.sha256(basis.encode("utf-8", "surrogatepass")).hexdigest()[:16]
