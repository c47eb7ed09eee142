"""What any Store implementation must do (SPEC §6 and what the pipeline, Hexo and the site rely on).

Runs on every backend `store_factory` yields (tests/store/conftest.py); only the protocol is used here.
"""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tidings.model import Entry, ItemState, Source
from tidings.store import IngestRow, ItemFilter, ItemKey, Post, RefilterResult, SiteFileRow, Store, UpsertResult

T0 = datetime(2024, 6, 1, 12, tzinfo=UTC)
NOW = T0.timestamp() + 3600


def source(n: int = 1, **kw: object) -> Source:
    return Source(url=f"https://feeds.example.com/{n}.xml", category="金融", source=f"源{n}", channel="", **kw)


def entry(src: Source, k: int, *, title: str | None = None, content: str | None = None,
          published: datetime | None = None, dated: bool = True, tags: list[str] | None = None) -> Entry:
    return Entry(source_key=src.key, id=f"{k:016x}", title=title or f"标题 {k}", link=f"https://e.example.com/{k}",
                 guid=f"g{k}", author="作者", published=(published or T0 + timedelta(minutes=k)) if dated else None,
                 content=content if content is not None else f"<p>正文 {k}</p>", tags=tags or [])


def row(e: Entry, html: str | None = None, **kw: object) -> IngestRow:
    return IngestRow(e, html if html is not None else e.content, **kw)  # type: ignore[arg-type]


@pytest.fixture
def store(store_factory) -> Store:
    s = store_factory()
    s.sync_sources([source(1), source(2)])
    return s


def ids(store: Store) -> list[str]:
    return [it.id for it in store.iter_items()]


# --- sources ---------------------------------------------------------------------------------------------

def test_sync_sources_renames_and_deactivates(store):
    s1 = source(1)
    store.upsert_entries([row(entry(s1, 1)), row(entry(source(2), 2))], now=NOW)
    renamed = Source(url=s1.url, category="科技", source="新名", channel="频道")
    store.sync_sources([renamed])
    items = list(store.iter_items())
    assert [it.id for it in items] == [entry(s1, 1).id]  # source 2 is no longer configured: not shown
    assert items[0].categories == ["科技", "新名", "频道"]
    assert [h.key for h in store.source_health(since=0)] == [s1.key]
    store.sync_sources([source(1), source(2)])
    assert len(ids(store)) == 2  # configured again: its items are back


def test_source_state_of_unknown_and_new_sources(store):
    st = store.source_state("https://nowhere.example.com/")
    assert (st.etag, st.last_modified, st.error_count, st.fetched_before) == (None, None, 0, False)
    st = store.source_state(source(1).key)
    assert st.fetched_before is False and st.last_success is None


def test_record_success_and_failure(store):
    key = source(1).key
    assert store.record_failure(key, "HTTP 500", now=NOW, next_fetch=NOW + 60) == 1
    assert store.record_failure(key, "HTTP 502", now=NOW + 60, next_fetch=NOW + 300) == 2
    st = store.source_state(key)
    assert (st.last_error, st.error_count, st.fetched_before) == ("HTTP 502", 2, True)
    assert store.next_fetch(key) == NOW + 300
    store.record_success(key, '"etag"', "Sat, 01 Jun 2024 12:00:00 GMT", "Feed", now=NOW + 600,
                         next_fetch=NOW + 2400, note="a raw & was recovered")
    st = store.source_state(key)
    assert (st.etag, st.last_modified, st.last_success, st.last_error, st.error_count) == (
        '"etag"', "Sat, 01 Jun 2024 12:00:00 GMT", NOW + 600, None, 0)
    assert store.next_fetch(key) == NOW + 2400
    health = {h.key: h for h in store.source_health(since=0)}[key]
    assert health.last_note == "a raw & was recovered"
    store.record_success(key, None, None, now=NOW + 700)  # a clean fetch clears the note
    assert {h.key: h for h in store.source_health(since=0)}[key].last_note is None
    store.set_next_fetch(key, NOW + 9999)
    assert store.next_fetch(key) == NOW + 9999
    assert store.next_fetch("https://nowhere.example.com/") is None
    assert store.record_failure("https://nowhere.example.com/", "x") == 0


def test_source_health_figures(store):
    s1, s2 = source(1), source(2)
    store.upsert_entries([row(entry(s1, 1))], now=NOW - 8 * 86400)
    store.upsert_entries([row(entry(s1, 2)), row(entry(s1, 3), state=ItemState.FILTERED)], now=NOW)
    store.record_failure(s2.key, "timeout", now=NOW, next_fetch=NOW + 60)
    health = store.source_health(since=NOW - 7 * 86400)
    assert [h.key for h in health] == [s1.key, s2.key]  # by category, source, channel
    h1, h2 = health
    assert (h1.url, h1.category, h1.source, h1.channel) == (s1.url, "金融", "源1", "")
    assert h1.items_since == 1  # published and first seen in the window; the filtered one does not count
    assert h1.last_first_seen == NOW  # of any state
    assert (h1.error_count, h1.last_success) == (0, None)
    assert (h2.error_count, h2.last_error, h2.next_fetch, h2.items_since, h2.last_first_seen) == (
        1, "timeout", NOW + 60, 0, None)


# --- items -----------------------------------------------------------------------------------------------

def test_upsert_new_then_unchanged_writes_nothing(store):
    s1 = source(1)
    es = [entry(s1, k) for k in range(3)]
    assert store.upsert_entries([row(e) for e in es], now=NOW) == UpsertResult(3, 0)
    assert store.count_items() == 3
    before = {it.id: it for it in store.iter_items()}
    # The same items again, even with other HTML: the content hash is unchanged, so nothing is rewritten.
    assert store.upsert_entries([row(e, "<p>other</p>") for e in es], now=NOW + 60) == UpsertResult(0, 0)
    after = {it.id: it for it in store.iter_items()}
    assert after == before
    assert store.known_ids(s1.key) == {e.id for e in es}
    ids = [e.id for e in es]
    assert store.known_ids(s1.key, [ids[0], "not-there", *ids[1:2]]) == set(ids[:2])
    assert store.known_ids(s1.key, []) == set()


def test_upsert_changed_updates_in_place(store):
    s1 = source(1)
    e = entry(s1, 1)
    undated = entry(s1, 2, dated=False)
    store.upsert_entries([row(e), row(undated)], now=NOW)
    first = {it.id: it for it in store.iter_items()}
    assert first[undated.id].published.timestamp() == NOW  # first-seen stands in for a missing date
    e2 = entry(s1, 1, title="新标题", content="<p>改过</p>")
    u2 = entry(s1, 2, dated=False, content="<p>也改过</p>")
    assert store.upsert_entries([row(e2, "<p>cleaned</p>"), row(u2)], now=NOW + 600) == UpsertResult(0, 2)
    items = {it.id: it for it in store.iter_items()}
    assert len(items) == 2 and store.count_items() == 2
    assert (items[e.id].title, items[e.id].html, items[e.id].content) == ("新标题", "<p>cleaned</p>", "<p>改过</p>")
    assert items[e.id].hash != first[e.id].hash
    assert items[e.id].first_seen == first[e.id].first_seen
    assert items[undated.id].published == first[undated.id].published  # an edit does not move it


def test_filtered_items_are_stored_but_not_published(store):
    s1 = source(1)
    kept, dropped = entry(s1, 1), entry(s1, 2)
    result = store.upsert_entries([row(kept), row(dropped, state=ItemState.FILTERED)], now=NOW)
    assert result == UpsertResult(1, 0)
    assert ids(store) == [kept.id]
    assert store.count_items(ItemState.FILTERED) == 1
    # A known item keeps its state: a changed filtered item is updated but stays filtered, and is not counted.
    changed = entry(s1, 2, title="改")
    assert store.upsert_entries([row(changed, state=ItemState.PUBLISHED)], now=NOW + 1) == UpsertResult(0, 0)
    assert ids(store) == [kept.id]
    assert store.known_ids(s1.key) == {kept.id, dropped.id}


@pytest.mark.parametrize("state", [ItemState.DELETED, ItemState.PRUNED])
def test_tombstones_stay_dead(store, state):
    s1 = source(1)
    e = entry(s1, 1)
    store.upsert_entries([row(e)], now=NOW)
    store.set_state(s1.key, e.id, state)
    assert ids(store) == [] and store.count_items(state) == 1
    assert store.upsert_entries([row(e)], now=NOW + 1) == UpsertResult(0, 0)
    assert store.upsert_entries([row(entry(s1, 1, title="edited"))], now=NOW + 2) == UpsertResult(0, 0)
    assert ids(store) == [] and store.count_items(state) == 1
    assert e.id in store.known_ids(s1.key)


def test_full_text_article_survives_a_changed_summary(store):
    s1 = source(1)
    e = entry(s1, 1, content="<p>summary</p>")
    store.upsert_entries([row(e, "<article>full</article>", fulltext=True)], now=NOW)
    store.upsert_entries([row(entry(s1, 1, content="<p>new summary</p>"))], now=NOW + 60)
    it = next(store.iter_items())
    assert (it.content, it.html) == ("<p>new summary</p>", "<article>full</article>")


def test_refilter_flips_both_ways(store):
    s1 = source(1)
    store.upsert_entries([row(entry(s1, 1, title="广告 one")), row(entry(s1, 2, title="新闻")),
                          row(entry(s1, 3, title="广告 three"), state=ItemState.FILTERED)], now=NOW)
    store.set_state(s1.key, entry(s1, 4).id, ItemState.DELETED)  # unknown id: no effect
    seen: list[dict[str, object]] = []

    def no_ads(*, title: str, content: str, author: str, link: str, categories: list[str]) -> bool:
        seen.append({"title": title, "categories": categories})
        return not title.startswith("广告")

    assert store.refilter(s1, no_ads) == RefilterResult(1, 0)
    assert ids(store) == [entry(s1, 2).id]
    assert all(s["categories"] == ["金融", "源1"] for s in seen)
    assert store.refilter(s1, lambda **_: True) == RefilterResult(0, 2)
    assert len(ids(store)) == 3


def test_prune_by_age_and_count(store_factory):
    store = store_factory()
    by_age, by_count = source(1, retain_days=2), source(2, retain_per_source=2)
    store.sync_sources([by_age, by_count])
    day = 86400
    old, fresh = entry(by_age, 1, published=T0 - timedelta(days=3)), entry(by_age, 2, published=T0)
    many = [entry(by_count, k, published=T0 + timedelta(hours=k)) for k in range(5)]
    store.upsert_entries([row(e) for e in (old, fresh, *many)], now=T0.timestamp())
    assert store.prune(by_age, now=T0.timestamp() + day) == 1
    assert store.prune(by_count, now=T0.timestamp()) == 3
    assert set(ids(store)) == {fresh.id, many[3].id, many[4].id}
    assert store.count_items(ItemState.PRUNED) == 4
    assert store.prune(by_count, now=T0.timestamp()) == 0
    # A pruned item never comes back as new.
    assert store.upsert_entries([row(old), row(many[0])], now=T0.timestamp() + 2 * day) == UpsertResult(0, 0)
    assert store.count_items() == 3


def test_iteration_order_and_bodies(store):
    s1, s2 = source(1), source(2)
    same = T0 + timedelta(hours=5)
    es = [entry(s1, 3, published=T0), entry(s2, 1, published=T0 + timedelta(hours=1)),
          entry(s1, 2, published=same), entry(s2, 0x10, published=same)]
    store.upsert_entries([row(e, f"<p>html {e.id}</p>") for e in es], now=NOW)
    want = [es[2].id, es[3].id, es[1].id, es[0].id]  # newest first, ties by id
    assert ids(store) == want
    assert [it.id for it in store.iter_items(newest_first=False)] == [es[0].id, es[1].id, es[2].id, es[3].id]
    light = list(store.iter_items(bodies=False))
    assert all(it.content == "" and it.html == "" for it in light)
    full = store.load_bodies(light[0])
    assert (full.content, full.html) == (es[2].content, f"<p>html {es[2].id}</p>")
    # content=False: the HTML without the raw markup (what a cleaned Hexo post reads)
    assert [(it.content, it.html) for it in store.iter_items(content=False)][0] == ("", f"<p>html {es[2].id}</p>")
    html_only = store.load_bodies(list(store.iter_items(bodies=False))[0], content=False)
    assert (html_only.content, html_only.html) == ("", f"<p>html {es[2].id}</p>")
    # html_utf8: the same html as its UTF-8 bytes (what Hexo posts are written from), the rest as without it
    as_text = list(store.iter_items(newest_first=False, content=False))
    as_utf8 = list(store.iter_items(newest_first=False, content=False, html_utf8=True))
    assert [it.html.encode() for it in as_text] == [it.html for it in as_utf8]
    assert [(it.id, it.content, it.title) for it in as_text] == [(it.id, it.content, it.title) for it in as_utf8]
    loaded = store.load_bodies(list(store.iter_items(bodies=False))[0], content=False, html_utf8=True)
    assert (loaded.content, loaded.html) == ("", f"<p>html {es[2].id}</p>".encode())
    it = next(store.iter_items())
    assert (it.source_key, it.guid, it.link, it.author, it.published, it.updated) == (
        s1.key, es[2].guid, es[2].link, "作者", same, None)
    assert it.first_seen.timestamp() == NOW and it.published.tzinfo is not None


def test_tags_round_trip(store):
    store.upsert_entries([row(entry(source(1), 1, tags=["宏观", "A股"]))], now=NOW)
    assert next(store.iter_items()).tags == ["宏观", "A股"]
    assert next(store.iter_site_items()).tags == ["宏观", "A股"]


def test_transaction_rolls_back_on_error(store):
    with pytest.raises(RuntimeError), store.transaction():
        store.set_meta("k", "v")
        store.set_post(source(1).key, "x", "a.md", "h")
        raise RuntimeError
    assert store.get_meta("k") is None and store.posts() == {}


def test_data_survives_reopening(store_factory, store):
    store.upsert_entries([row(entry(source(1), 1))], now=NOW)
    store.set_meta("filter:x", "fp")
    store.close()
    again = store_factory()
    assert len(ids(again)) == 1 and again.get_meta("filter:x") == "fp"


def test_replace_urls(store):
    s1 = source(1)
    e = entry(s1, 1, content='<img src="http://a.example/m/x.png"><img src="https://a.example/m/y.png">')
    e.cover = "http://a.example/m/x.png"
    store.upsert_entries([row(e), row(entry(s1, 2))], now=NOW)
    assert store.replace_urls(["http://a.example/m/", "https://a.example/m/"], "/m/") == 1
    it = {i.id: i for i in store.iter_items()}[e.id]
    assert (it.html, it.cover) == ('<img src="/m/x.png"><img src="/m/y.png">', "/m/x.png")
    assert store.replace_urls(["http://a.example/m/", "https://a.example/m/"], "/m/") == 0


# --- Hexo ledger and settings ----------------------------------------------------------------------------

def test_posts_ledger(store):
    key = source(1).key
    assert store.posts() == {}
    store.set_post(key, "a", "金融/a.md", "h1")
    store.set_post(key, "b", "金融/b.md", "h2")
    store.set_post(key, "a", "金融/a2.md", "h3")  # moved and rewritten
    assert store.posts() == {ItemKey(key, "a"): Post("金融/a2.md", "h3"), ItemKey(key, "b"): Post("金融/b.md", "h2")}
    store.delete_post(key, "b")
    ((k, p),) = store.posts().items()
    assert (k.source_key, k.id, p.path, p.hash) == (key, "a", "金融/a2.md", "h3")


def test_set_posts_is_set_post_of_each_row_in_order(store_factory):
    """build_posts hands a batch of ledger rows to set_posts: the ledger must be the one set_post of each, in
    order, leaves, also when a path passes from one item to another within the batch (posts_by_path is unique)."""
    key = source(1).key
    rows = [(key, "a", "金融/a.md", "h1"), (key, "b", "金融/b.md", "h2"), (key, "a", "金融/a2.md", "h3"),
            (key, "b", "金融/a.md", "h4"), (key, "c", "金融/c.md", "h5")]
    store = store_factory()
    with store.transaction():
        store.set_post(key, "a", "金融/old.md", "h0")
        for r in rows:
            store.set_post(*r)
    one_by_one = store.posts()
    with store.transaction():
        for k in one_by_one:
            store.delete_post(k.source_key, k.id)
        store.set_post(key, "a", "金融/old.md", "h0")
        store.set_posts(rows)
    assert store.posts() == one_by_one == {ItemKey(key, "a"): Post("金融/a2.md", "h3"),
                                           ItemKey(key, "b"): Post("金融/a.md", "h4"),
                                           ItemKey(key, "c"): Post("金融/c.md", "h5")}
    store.set_posts([])
    assert store.posts() == one_by_one


def test_meta(store):
    assert store.get_meta("filter:x") is None
    store.set_meta("filter:x", "one")
    store.set_meta("filter:x", "two")
    assert store.get_meta("filter:x") == "two"


# --- site reads ------------------------------------------------------------------------------------------

def test_site_reads(store):
    s1, s2 = source(1), source(2)
    es = [entry(s1, 1, published=T0), entry(s1, 2, published=T0 + timedelta(days=1)),
          entry(s2, 3, published=T0 + timedelta(days=1, hours=1))]
    store.upsert_entries([row(e, f"<p>正文 {'x' * 50}</p>") for e in es]
                         + [row(entry(s2, 4), state=ItemState.FILTERED)], now=NOW)
    with store.snapshot():
        counts = store.site_counts(ZoneInfo("Asia/Shanghai"), heads_over=1)
        items = list(store.iter_site_items())
    assert counts.total == 3
    assert counts.nodes == {("金融",): 3, ("金融", "源1"): 2, ("金融", "源2"): 1}
    assert counts.days == {T0.date(): 1, (T0 + timedelta(days=1)).date(): 2}
    assert counts.heads == {((T0 + timedelta(days=1)).date(), "0"): 2}
    assert counts.months() == {(2024, 6): 3} and counts.years() == {2024: 3}
    assert [it.id for it in items] == [es[2].id, es[1].id, es[0].id]
    assert all(it.content == "" for it in items)  # the site never shows the feed's raw content
    assert items[0].html == f"<p>正文 {'x' * 50}</p>"
    assert next(store.iter_site_items(html=False)).html == ""
    raw = next(store.iter_site_items(html="utf-8")).html
    assert isinstance(raw, bytes) and raw.decode("utf-8") == items[0].html
    assert store.item_html(s2.key, es[2].id) == items[0].html
    assert store.item_html(s2.key, es[2].id, limit=4) == "<p>正"
    assert store.item_html(s2.key, "nope") == ""


def test_snapshot_inside_a_transaction(store):
    with store.transaction(), store.snapshot():
        store.set_meta("k", "v")
    assert store.get_meta("k") == "v"


def test_site_journal_and_filtered_streams(store):
    """The journal holds every change a site shows, with where the item was before; streams by source, time
    and keyword (through item_keywords, kept by the store) are newest first, visible items only."""
    s1, s2 = source(1), source(2)
    with store.snapshot():
        start = store.site_journal_mark()
    es = [entry(s1, 1, published=T0), entry(s1, 2, published=T0 + timedelta(hours=2)),
          entry(s2, 3, published=T0 + timedelta(hours=1))]
    store.upsert_entries([row(es[0], keywords=("油价", "央行")), row(es[1], keywords=("油价",)), row(es[2])], now=NOW)
    changes = store.site_changes(start, 100)
    assert changes is not None and [(c.id, c.published, c.state) for c in changes] == [
        (es[0].id, None, None), (es[1].id, None, None), (es[2].id, None, None)]  # new: nowhere before
    assert store.site_changes(start, 2) is None  # more than the limit
    with store.snapshot():
        mark = store.site_journal_mark()
    store.upsert_entries([row(es[0])], now=NOW + 1)  # unchanged: last_seen only, nothing journaled
    assert store.site_changes(mark, 100) == []
    store.set_state(s1.key, es[1].id, ItemState.PRUNED)
    store.set_story(s2.key, es[2].id, es[0].id, [], es[2].published.timestamp())
    got = store.site_changes(mark, 100)
    assert got is not None and [(c.id, c.published, c.story, c.state) for c in got] == [
        (es[1].id, es[1].published.timestamp(), None, "published"), (es[2].id, es[2].published.timestamp(), None,
                                                                     "published")]
    assert all(c.state is ItemState.PUBLISHED for c in got)  # an ItemState, not the stored string
    assert [it.id for it in store.iter_site_items(False, ItemFilter(keyword="油价"))] == [es[0].id]  # es[1] pruned
    assert [it.id for it in store.iter_site_items(False, ItemFilter(keyword="央行"))] == [es[0].id]
    assert [it.id for it in store.iter_site_items(False, ItemFilter(sources=(s1.key,)))] == [es[0].id]
    window = ItemFilter(since=T0.timestamp() + 1, until=(T0 + timedelta(hours=3)).timestamp())
    assert [it.id for it in store.iter_site_items(False, window)] == [es[2].id]
    assert {r.id for r in store.keyword_refs(["油价"])} == {es[0].id}
    assert {m.id for ms in store.story_members([es[0].id]).values() for m in ms} == {es[2].id}
    store.save_site_build("/out", mark, "{}")  # rows every site has read are dropped
    assert store.site_build("/out") == ("" + mark, "{}")
    store.save_site_files("/out", [SiteFileRow("a/x.html", "d", "f", "s")], [])
    assert store.site_files("/out", under="a/") == {"a/x.html": ("d", "f", "s")}
    store.forget_site("/out")
    assert store.site_build("/out") is None and store.site_files("/out") == {}
