"""Feeds stored together (`jobs.ingest_many`, what `tidings run` does with the feeds waiting for the store):
the same items, keywords, fingerprints, stories and outcomes as one feed at a time, a failing feed fails
alone, and the run's store thread does take waiting feeds together. On SQLite and PostgreSQL."""
from __future__ import annotations

import threading
import time

import pytest
from feedserver import rss
from util import store_rows, write_config

from tidings import jobs, pipeline
from tidings.config import Config, load
from tidings.filters import ItemFilter
from tidings.jobs import Cleaner, ingest, ingest_many
from tidings.model import FetchResult, OutcomeStatus, Source
from tidings.store import open_store
from tidings.stories.assign import StoryStage

WIRE = [
    ("国家统计局：11月制造业PMI为49.5%", "国家统计局今天发布数据显示，11月份制造业采购经理指数为49.5%，比上月上升0.3个百分点，"
     "制造业景气水平有所改善。其中大型企业PMI为50.2%。"),
    ("神舟十九号载人飞船发射取得圆满成功", "据中国载人航天工程办公室消息，神舟十九号载人飞船于10月30日4时27分在酒泉卫星发射中心"
     "发射，约10分钟后与火箭成功分离，进入预定轨道。"),
    ("Fed holds rates steady at 5.25%", "The Federal Reserve held its benchmark rate steady on Wednesday at 5.25% to 5.5%, "
     "as officials weighed cooling inflation against a resilient labor market, Chair Jerome Powell said."),
    ("台风“康妮”将登陆台湾东部", "中央气象台11月1日发布台风橙色预警，今年第21号台风“康妮”预计将于今天下午在台湾东部沿海登陆，"
     "登陆时中心附近最大风力14级。"),
]


def item(i: int, title: str, text: str, hour: int) -> dict:
    return {"title": title, "link": f"http://news.example.com/{i}", "guid": f"id-{i}",
            "pubDate": f"Mon, 25 Nov 2024 {hour:02d}:00:00 GMT", "description": f"<p>{text}</p>"}


def source(n: str, **kw) -> Source:
    return Source(url=f"http://feeds.example/{n}", category="c", source=n, channel="", **kw)


def results() -> list[FetchResult]:
    """Two outlets with the same wire copy (one with other headlines, published earlier), a feed with a
    filtered item, a 304, a failed fetch, a feed that is not a feed, and a repost in a later feed."""
    a = [item(k, t, x, 8 + k) for k, (t, x) in enumerate(WIRE)]
    b = [item(10 + k, "转载：" + t if k % 2 else t, "来源：新浪财经 " + x, 6 + k) for k, (t, x) in enumerate(WIRE[:3])]
    c = [item(20, "Local council approves budget", "<b>The council</b> approved the 2025 budget on Monday.", 12),
         item(21, "Sponsored: buy now", "An advertisement.", 13)]
    d = [item(30, WIRE[3][0], "（记者 张三）" + WIRE[3][1], 20)]

    def ok(src: Source, items: list[dict]) -> FetchResult:
        return FetchResult(src, status=200, body=rss(items).encode(), content_type="application/rss+xml")

    return [ok(source("a"), a), ok(source("b"), b), ok(source("c", item_filter=ItemFilter.from_rules(exclude=["Sponsored"])), c),
            FetchResult(source("d304"), status=304, not_modified=True), FetchResult(source("gone"), status=404, error="HTTP 404"),
            FetchResult(source("junk"), status=200, body=b"<html><body>not a feed", content_type="text/html"),
            ok(source("d"), d)]


@pytest.fixture
def two_stores(request, store_at, tmp_path):
    """A fresh store, and another on the same backend."""
    other = (str(request.getfixturevalue("pg_cluster").create_database()) if store_at.startswith("postgresql:")
             else str(tmp_path / "other.db"))
    return store_at, other


def outcome_fields(outcomes) -> list[tuple]:
    return [(o.source.key, o.status, o.new, o.changed, o.filtered, o.reason, o.notes) for o in outcomes]


def stored(where: str) -> tuple[list[tuple], set[frozenset[str]]]:
    rows = store_rows(where, "SELECT source_key, id, state, keywords, fingerprint, story FROM items "
                             "ORDER BY source_key, id")
    stories: dict[str, set[str]] = {}
    for key, item_id, _, _, _, story in rows:
        if story:
            stories.setdefault(story, set()).add(f"{key} {item_id}")
    return [r[:5] for r in rows], {frozenset(m) for m in stories.values()}


def run(where: str, together: bool) -> list:
    cfg = Config(sources=[])
    given = results()
    with open_store(where) as store:
        store.sync_sources([r.source for r in given])
        clean, stage = Cleaner(cfg), StoryStage(cfg.stories, cfg.tags)
        if together:
            return ingest_many(store, given, clean, now=1732521600.0, stories=stage)
        return [ingest(store, r, clean, now=1732521600.0, stories=stage) for r in given]


def test_feeds_stored_together_as_one_at_a_time(two_stores):
    together, alone = two_stores
    out = run(together, True)
    assert outcome_fields(out) == outcome_fields(run(alone, False))
    assert [o.status for o in out] == [OutcomeStatus.NEW] * 3 + [OutcomeStatus.NOT_MODIFIED] + \
        [OutcomeStatus.FAILED] * 2 + [OutcomeStatus.NEW]
    assert out[2].filtered == 1
    rows, stories = stored(together)
    # Story ids may differ (taken together, the earliest published item names its story), the grouping not.
    assert (rows, stories) == stored(alone)
    # each wire story with its repost (b's three, d's in a later feed); c's published item alone
    assert sorted(len(m) for m in stories) == [1, 2, 2, 2, 2]
    assert all(r[3] != "[]" and r[4] for r in rows if r[2] == "published")  # every new item described


def test_postgresql_sets_stories_after_the_insert_with_the_same_results(tmp_path, pg_url):
    """On PostgreSQL (other workers wait on the story lock) new items are inserted first and given their stories
    after; SQLite gives them with the insert. The same stories and sequence numbers either way."""
    lite = str(tmp_path / "lite.db")
    assert outcome_fields(run(lite, True)) == outcome_fields(run(pg_url, True))
    query = "SELECT source_key, id, story, story_seq FROM items ORDER BY source_key, id"
    rows = store_rows(lite, query)
    assert rows == store_rows(pg_url, query)
    assert sum(r[2] is not None for r in rows) == 9 and len({r[3] for r in rows if r[3] is not None}) == 9


def test_the_story_lock_is_taken_after_the_batch_is_inserted_where_writers_share_it(store_at, monkeypatch):
    """Where other processes store at once (PostgreSQL), the story lookup, which takes the story lock held to the
    commit, comes after every feed's insert; on SQLite it comes first, its stories written with the items."""
    cfg = Config(sources=[])
    given = results()
    calls: list[str] = []
    with open_store(store_at) as store:
        store.sync_sources([r.source for r in given])
        for name in ("upsert_entries", "story_updates"):
            real = getattr(store, name)

            def noted(*args, _real=real, _name=name, **kwargs):  # the real method, its call noted
                calls.append(_name)
                return _real(*args, **kwargs)

            monkeypatch.setattr(store, name, noted)
        ingest_many(store, given, Cleaner(cfg), now=1732521600.0, stories=StoryStage(cfg.stories, cfg.tags))
        shared = store.shared_writers
    assert calls.count("upsert_entries") == 4 and "story_updates" in calls  # a, b, c and d
    last_insert, lookup = len(calls) - 1 - calls[::-1].index("upsert_entries"), calls.index("story_updates")
    assert (lookup > last_insert) if shared else (lookup < calls.index("upsert_entries")), calls
    assert shared == store_at.startswith("postgresql:")


def test_a_feed_failing_in_the_batch_fails_alone(store_at, monkeypatch):
    """The batch's transaction fails on one feed: it is rolled back, and each feed is stored on its own."""
    cfg = Config(sources=[])
    given = results()
    with open_store(store_at) as store:
        store.sync_sources([r.source for r in given])
        upsert = store.upsert_entries

        def failing(rows, now=None):
            if any(r.entry.source_key == given[1].source.key for r in rows):
                raise RuntimeError("disk on fire")
            return upsert(rows, now=now)

        monkeypatch.setattr(store, "upsert_entries", failing)
        out = ingest_many(store, given, Cleaner(cfg), now=1732521600.0, stories=StoryStage(cfg.stories, cfg.tags))
    assert out[1].status == OutcomeStatus.FAILED and "disk on fire" in out[1].reason
    assert [o.status for o in out[:3]] == [OutcomeStatus.NEW, OutcomeStatus.FAILED, OutcomeStatus.NEW]
    keys = {k for k, *_ in store_rows(store_at, "SELECT source_key FROM items")}
    assert given[1].source.key not in keys and {given[0].source.key, given[2].source.key} <= keys
    assert store_rows(store_at, "SELECT count(*) FROM items WHERE story IS NOT NULL")[0][0] == 6  # a's 4, d's, c's 1


def test_the_runs_store_thread_takes_waiting_feeds_together(tmp_path, store_at, server, monkeypatch):
    """While the store's thread is busy with one feed, the others fetched meanwhile wait, and go in together."""
    urls = [server.add(f"/f{n}", rss([item(100 * n + k, f"{t} ({n})", x, 8 + k) for k, (t, x) in enumerate(WIRE)]))
            for n in range(8)]
    cfg = load(write_config(tmp_path, [{"category": "c", "source": f"s{n}", "url": u} for n, u in enumerate(urls)],
                            store=store_at))
    sizes: list[int] = []
    first = threading.Event()
    real = jobs.ingest_many

    def watched(store, results, *a, **kw):
        sizes.append(len(results))
        if not first.is_set():
            first.set()
            time.sleep(1.0)  # the other seven fetches finish meanwhile
        return real(store, results, *a, **kw)

    monkeypatch.setattr(jobs, "ingest_many", watched)
    with open_store(cfg.store_path) as store:
        out = pipeline.fetch(cfg, store, force=True)
    assert sorted(sizes, reverse=True)[0] > 1 and sum(sizes) == 8
    assert [o.status for o in out] == [OutcomeStatus.NEW] * 8 and sum(o.new for o in out) == 32
    assert store_rows(store_at, "SELECT count(*) FROM items WHERE keywords != '[]'")[0][0] == 32


def test_a_cancelled_fetch_does_not_stall_the_others():
    """An interrupted fetch cancels its wait; the feeds stored in the same batch still get their outcomes."""
    import asyncio

    gate = threading.Event()
    src = [source(f"x{n}") for n in range(3)]

    def store_many(results):
        gate.wait(5)
        return [jobs.SourceOutcome(r.source, OutcomeStatus.NOT_MODIFIED) for r in results]

    lane = jobs.StoreThread(8, store_many)

    async def main():
        first = asyncio.ensure_future(lane.ingest(FetchResult(src[0], not_modified=True)))
        await asyncio.sleep(0.05)  # the store thread now waits inside the first batch
        rest = [asyncio.ensure_future(lane.ingest(FetchResult(s, not_modified=True))) for s in src[1:]]
        await asyncio.sleep(0.05)
        rest[0].cancel()
        gate.set()
        return await asyncio.wait_for(asyncio.gather(first, rest[1]), 5)

    try:
        done = asyncio.run(main())
    finally:
        lane.shutdown()
    assert [o.source.key for o in done] == [src[0].key, src[2].key]


def test_fetches_waiting_for_the_store_sleep():
    """Feeds fetched while the store's thread is busy wait without spinning: polling for a slot, a thousand
    waiting fetches kept the event loop busy and starved the store's thread of the GIL (a first pass of 1,000
    feeds took 80–156 s instead of ~8)."""
    import asyncio

    gate = threading.Event()

    def store_many(results):
        gate.wait(10)
        return [jobs.SourceOutcome(r.source, OutcomeStatus.NOT_MODIFIED) for r in results]

    lane = jobs.StoreThread(4, store_many)

    async def main():
        waiting = [asyncio.ensure_future(lane.ingest(FetchResult(source(f"w{n}"), not_modified=True)))
                   for n in range(500)]
        await asyncio.sleep(0.1)  # all of them are waiting now: 4 in the lane, the rest for a slot
        cpu = time.process_time()
        await asyncio.sleep(0.5)
        spent = time.process_time() - cpu
        gate.set()
        await asyncio.gather(*waiting)
        return spent

    try:
        spent = asyncio.run(main())
    finally:
        gate.set()
        lane.shutdown()
    assert spent < 0.15, f"{spent:.2f} CPU-s spent waiting for 0.5 s"
