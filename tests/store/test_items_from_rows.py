"""items_from_rows (the reading of iter_items and of the site's stream) against row_reference.item_from_row, the
one-row reference: the same StoredItems from generated rows, and from both backends' iter_site_items. The site
stream's shape of rows (no content, the sources' names from a lookup) is in test_site_items_from_rows.py."""
from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from tidings.model import Entry, Source
from tidings.store import ALL_ITEMS, IngestRow
from tidings.store.base import items_from_rows

from .conftest import StoreFactory
from .row_reference import item_from_row

texts = st.text(alphabet=st.characters(codec=None, blacklist_categories=()), max_size=8)
word_lists = st.lists(texts, max_size=3)
json_texts = st.one_of(st.just("[]"), word_lists.map(lambda ws: json.dumps(ws, ensure_ascii=False)),
                       word_lists.map(json.dumps))  # (escaped or not, as a store may hold either)
# Unix seconds before and after 1970, fractional; a few values only, so rows share them as a batch's rows do.
times = st.sampled_from([0.0, -86_400.5, 1_719_748_800.25, 1_800_000_000.0, 4_102_444_800.999999])
rows = st.lists(st.tuples(
    texts, texts, texts, texts, texts, texts, times, st.none() | times, times, texts, texts | st.binary(max_size=8),
    texts, json_texts, texts, texts, texts, texts, texts, json_texts, st.integers(0, 3)), max_size=30)


@given(rows)
def test_items_from_rows_are_item_from_row_of_each_row(rs: list[tuple]):
    expected = [item_from_row(r) for r in rs]
    items = list(items_from_rows(rs))
    assert items == expected
    assert len({id(i.tags) for i in items}) == len({id(i.keywords) for i in items}) == len(items)  # never shared
    for i in items:
        assert i.published.tzinfo is UTC and i.first_seen.tzinfo is UTC


def test_first_seen_cache_is_bounded_and_right_past_its_size():
    """The first-seen datetimes are cached up to 10,000 values, then the cache starts over: still right."""
    base = (("k", "0", "", "", "t", "", 0.0, None), ("", "h", "", "[]", "", "c", "s", "", "", "[]", 0))
    rs = [(*base[0], float(k % 10_050), *base[1]) for k in range(20_100)]
    assert [i.first_seen.timestamp() for i in items_from_rows(rs)] == [r[8] for r in rs]


SOURCE = Source(url="http://example.com/feed", category="新闻", source="例子", channel="")


def test_iter_site_items_holds_what_was_stored(store_factory: StoreFactory):
    """Both backends' site stream (one column fewer than iter_items) gives the items iter_items gives without
    content, each with what was stored: aware and naive times, updated or not, unicode tags and keywords."""
    store = store_factory()
    store.sync_sources([SOURCE])
    start = datetime(2024, 6, 30, 12, 0, 0, 250_000, tzinfo=UTC)
    entries = []
    for k in range(12):
        published = start - timedelta(hours=k)
        if k % 3 == 1:  # a naive time is UTC; another offset is the same instant
            published = published.replace(tzinfo=None)
        elif k % 3 == 2:
            published = published.astimezone(timezone(timedelta(hours=8)))
        entries.append(Entry(source_key=SOURCE.key, id=f"{k:016x}", title=f"标题 {k} \u2028", link=f"https://e.x/{k}",
                             guid=f"g{k}", author="作者" if k % 2 else "", published=published,
                             updated=start + timedelta(minutes=k) if k % 4 == 0 else None, content=f"<p>{k}</p>",
                             cover=f"https://e.x/{k}.jpg" if k % 2 else "", tags=["宏观", "A股"] if k % 2 else []))
    for batch, now in ((entries[:6], 1_800_000_000.5), (entries[6:], 1_800_000_100.0)):
        store.upsert_entries([IngestRow(e, f"<p>正文 {e.id}</p>", keywords=("油价",) if int(e.id, 16) % 5 == 0 else ())
                              for e in batch], now=now)
    site = list(store.iter_site_items(True, ALL_ITEMS))
    assert site == list(store.iter_items(True, bodies=True, content=False))
    assert [i.id for i in site] == [e.id for e in entries]
    for item, e in zip(site, entries, strict=True):
        published = e.published if e.published.tzinfo else e.published.replace(tzinfo=UTC)
        assert (item.published, item.updated, item.tags, item.title) == (published, e.updated, e.tags, e.title)
        assert item.keywords == (["油价"] if int(e.id, 16) % 5 == 0 else []) and item.content == ""
        assert item.first_seen.timestamp() == (1_800_000_000.5 if int(e.id, 16) < 6 else 1_800_000_100.0)
        assert item.html == f"<p>正文 {e.id}</p>" and item.categories == ["新闻", "例子"]
    assert [i.html for i in store.iter_site_items("utf-8")] == [i.html.encode() for i in site]
