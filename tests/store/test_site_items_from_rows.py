"""items_from_rows of the site stream's rows: no content, the sources' names from one lookup per source)
against row_reference.item_from_row of the full rows, and both backends' stream against iter_items across
sources, a renamed one and one switched off."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given

from tidings.model import Entry, Source
from tidings.store import ALL_ITEMS, IngestRow
from tidings.store.base import items_from_rows

from .conftest import StoreFactory
from .row_reference import item_from_row
from .test_items_from_rows import rows


@given(rows)
def test_site_rows_are_item_from_row_of_each_full_row(rs: list[tuple]):
    sources: dict[str, tuple[str, str, str, str]] = {}
    for r in rs:  # one set of names per source key, as the sources table holds
        sources.setdefault(r[0], (r[0], r[14], r[15], r[16]))
    full = [(*r[:14], *sources[r[0]][1:], *r[17:]) for r in rs]
    expected = [item_from_row(r) for r in full]
    for e in expected:
        e.content = ""
    site_rows = [r[:9] + r[10:14] + r[17:] for r in full]
    got = list(items_from_rows(site_rows, sources))
    assert got == expected
    assert len({id(i.tags) for i in got}) == len({id(i.keywords) for i in got}) == len(got)  # never shared lists
    for i in got:  # a source's strings are the lookup's own (one object per source: pickled once a job chunk)
        assert i.source_key is sources[i.source_key][0] and i.channel is sources[i.source_key][3]


def _entries(source: Source, n: int, start: datetime) -> list[Entry]:
    return [Entry(source_key=source.key, id=f"{source.channel or 'x'}{k:04d}", title=f"标题 {k}",
                  link=f"https://e.x/{k}", guid=f"g{k}", author="", published=start - timedelta(minutes=7 * k),
                  updated=None, content="<p>c</p>", cover="", tags=[]) for k in range(n)]


def test_site_stream_names_follow_the_sources_table(store_factory: StoreFactory):
    """Three sources' items interleaved: the stream equals iter_items (which joins the names on every row),
    before and after one source is renamed and another switched off."""
    store = store_factory()
    a = Source(url="http://a.example/feed", category="新闻", source="甲", channel="要闻")
    b = Source(url="http://b.example/feed", category="新闻", source="乙", channel="")
    c = Source(url="http://c.example/feed", category="财经", source="丙", channel="股市")
    store.sync_sources([a, b, c])
    start = datetime(2024, 6, 30, 12, 0, tzinfo=UTC)
    for s, shift in ((a, 0), (b, 2), (c, 5)):
        store.upsert_entries([IngestRow(e, "<p>正文</p>") for e in _entries(s, 6, start - timedelta(minutes=shift))],
                             now=1_800_000_000.0)

    def same() -> list[tuple[str, str, str]]:
        site = list(store.iter_site_items("utf-8", ALL_ITEMS))
        assert [(i.source_key, i.id, i.categories) for i in site] == [
            (i.source_key, i.id, i.categories) for i in store.iter_items(True, bodies=True, content=False)]
        with store.snapshot():  # inside a snapshot too (the build's way)
            assert list(store.iter_site_items("utf-8", ALL_ITEMS)) == site
        return sorted({(i.category, i.source, i.channel) for i in site})

    assert same() == [("新闻", "乙", ""), ("新闻", "甲", "要闻"), ("财经", "丙", "股市")]
    store.sync_sources([Source(url=a.url, category="要闻汇总", source="甲报", channel="头条"), b])
    assert same() == [("新闻", "乙", ""), ("要闻汇总", "甲报", "头条")]
