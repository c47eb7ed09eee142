"""Read-only SQL over the store's documented schema: counts that listing pages and shards need up front.

Published items of active sources only (_FROM), the same set `Store.iter_items` streams. The counts are
aggregated by SQLite, so they are cheap even at 100,000 items.
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


# The same set of items as _ITEMS. `fl` is floor(published) (exact integer arithmetic from here on) and
# `bucket` floor(published / 900), the same as Python's `int(published // 900)`.
_FROM = ("FROM items i JOIN sources s ON s.key = i.source_key WHERE i.state = 'published' AND s.active = 1")
_BUCKETS = ("SELECT CASE WHEN fl >= 0 THEN fl / 900 ELSE -((899 - fl) / 900) END AS bucket, count(*) FROM "
            "(SELECT CAST(i.published AS INTEGER) - (i.published < CAST(i.published AS INTEGER)) AS fl "
            f"{_FROM}) GROUP BY bucket")
_CHANNELS = f"SELECT s.category, s.source, s.channel, count(*) {_FROM} GROUP BY s.key"
_HEADS = f"SELECT substr(i.id, 1, 1), count(*) {_FROM} AND i.published >= ? AND i.published < ? GROUP BY 1"


def count(db, tz: ZoneInfo, heads_over: int | None = None) -> Counts:
    """Items per node and per local day; and, for days of more than `heads_over` items (None: none), per
    first character of their ids (search shards split such days). Aggregated in SQL: a few thousand rows
    come back instead of one per item."""
    counts = Counts()
    for category, source, channel, n in db.execute(_CHANNELS):
        path = tuple(c for c in (category, source, channel) if c)
        for i in range(1, len(path) + 1):
            counts.nodes[path[:i]] += n
        counts.total += n
    # Every UTC offset in use is a multiple of 15 minutes, so the local date is constant per 15-minute bucket
    # (and a day's buckets are consecutive).
    spans: dict[date, list[int]] = {}
    for bucket, n in db.execute(_BUCKETS):
        d = datetime.fromtimestamp(bucket * 900, timezone.utc).astimezone(tz).date()
        counts.days[d] += n
        span = spans.get(d)
        if span is None:
            spans[d] = [bucket, bucket]
        else:
            span[0], span[1] = min(span[0], bucket), max(span[1], bucket)
    if heads_over is not None:
        for d, n in counts.days.items():
            if n > heads_over:
                first, last = spans[d]
                for head, k in db.execute(_HEADS, (first * 900, (last + 1) * 900)):
                    counts.heads[(d, head)] += k
    return counts


_ITEMS = ("SELECT i.source_key, i.id, i.guid, i.link, i.title, i.author, i.published, i.updated, i.first_seen, "
          "{html}, i.cover, i.tags, i.hash, s.category, s.source, s.channel " + _FROM.replace("{", "{{")
          + " ORDER BY i.published DESC, i.id")


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
