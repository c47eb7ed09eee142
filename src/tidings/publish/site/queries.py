"""Read-only SQL over the store's documented schema: counts that listing pages and shards need up front.

Published items of active sources only, the same set `Store.iter_items` streams. The counting pass reads
four small columns (no HTML), so it is cheap even at 100,000 items.
"""
from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

from ...store import StoredItem

_LIGHT = ("SELECT i.published, s.category, s.source, s.channel, substr(i.id, 1, 1) FROM items i "
          "JOIN sources s ON s.key = i.source_key "
          "WHERE i.state = 'published' AND s.active = 1")


@dataclass
class Counts:
    total: int = 0
    nodes: Counter = field(default_factory=Counter)  # (name, ...) -> items under that node
    days: Counter = field(default_factory=Counter)  # local date -> items published that day
    heads: Counter = field(default_factory=Counter)  # (local date, first character of the item id) -> items

    def months(self) -> Counter:
        c: Counter = Counter()
        for d, n in self.days.items():
            c[(d.year, d.month)] += n
        return c

    def years(self) -> Counter:
        c: Counter = Counter()
        for d, n in self.days.items():
            c[d.year] += n
        return c


def count(db, tz: ZoneInfo) -> Counts:
    counts = Counts()
    per_channel: Counter = Counter()
    # Every UTC offset in use is a multiple of 15 minutes, so the local date is constant per 15-minute bucket.
    day_of: dict[int, date] = {}
    for published, category, source, channel, head in db.execute(_LIGHT):
        counts.total += 1
        per_channel[tuple(c for c in (category, source, channel) if c)] += 1
        bucket = int(published // 900)
        d = day_of.get(bucket)
        if d is None:
            d = day_of[bucket] = datetime.fromtimestamp(bucket * 900, timezone.utc).astimezone(tz).date()
        counts.days[d] += 1
        counts.heads[(d, head)] += 1
    for path, n in per_channel.items():
        for i in range(1, len(path) + 1):
            counts.nodes[path[:i]] += n
    return counts


_ITEMS = ("SELECT i.source_key, i.id, i.guid, i.link, i.title, i.author, i.published, i.updated, i.first_seen, "
          "{html}, i.cover, i.tags, i.hash, s.category, s.source, s.channel FROM items i "
          "JOIN sources s ON s.key = i.source_key WHERE i.state = 'published' AND s.active = 1 "
          "ORDER BY i.published DESC, i.id")


def _dt(ts: float | None) -> datetime | None:
    return datetime.fromtimestamp(ts, timezone.utc) if ts is not None else None


def iter_items(db, html: bool | str = True) -> Iterator[StoredItem]:
    """Store.iter_items(newest_first=True) without the raw `content` column, which the site never shows
    (half the bytes read), and with html='' unless `html`. Same items, same order.
    With html="utf-8", `html` is the column's UTF-8 bytes, not decoded (see Builder.stream)."""
    col = "CAST(i.html AS BLOB)" if html == "utf-8" else "i.html" if html else "''"
    tags: dict[str, list] = {}  # most items of a source have the same tags: parse each JSON text once
    for r in db.execute(_ITEMS.format(html=col)):
        t = tags.get(r[11])
        if t is None:
            t = tags[r[11]] = json.loads(r[11]) if len(tags) < 10_000 else None
        yield StoredItem(r[0], r[1], r[2], r[3], r[4], r[5], _dt(r[6]), _dt(r[7]), _dt(r[8]), "", r[9], r[10],
                         list(t) if t is not None else json.loads(r[11]), r[12], r[13], r[14], r[15])


def item_html(db, source_key: str, item_id: str, limit: int | None = None) -> str:
    """One item's published HTML (only its first `limit` characters when given)."""
    col = f"substr(html, 1, {int(limit)})" if limit else "html"
    row = db.execute(f"SELECT {col} FROM items WHERE source_key = ? AND id = ?", (source_key, item_id)).fetchone()
    return row[0] if row else ""


@contextmanager
def snapshot(db):
    """One read transaction around the counting pass and the item stream, so both see the same items
    even while a fetch writes to the store (WAL mode)."""
    if db.in_transaction:
        yield
        return
    db.execute("BEGIN")
    try:
        yield
    finally:
        db.execute("COMMIT")
