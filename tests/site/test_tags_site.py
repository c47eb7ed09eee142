"""Tags on the built site (SPEC §10): shown on item pages, a page and RSS/Atom/JSON feeds for every tag of at
least `tag_min_items` listed items, and a tag cloud on the categories page."""
from __future__ import annotations

import json
import random
import re
from datetime import timedelta
from zoneinfo import ZoneInfo

from site_helpers import config, make_store, resolve

from tidings.publish.site import build_site, samples, urls
from tidings.store import IngestRow

TZ = ZoneInfo("Asia/Shanghai")


def rel(it) -> str:
    return urls.item_path(it.published.astimezone(TZ), urls.item_uid(it.source_key, it.id))


def test_tag_pages_feeds_chips_and_cloud(tmp_path, store_at):
    store = make_store(store_at, n=40)
    src = samples.make_sources()[0]
    newest = next(store.iter_items()).published
    rng = random.Random(2)
    rows = []
    for k in range(4):  # 央行 on 4 items, 降准 on 2, 孤词 on 1
        e, html = samples.entry(src, 500 + k, newest - timedelta(hours=k + 1), rng)
        words = ("央行", "降准") if k < 2 else ("央行", "孤词") if k == 2 else ("央行",)
        rows.append(IngestRow(e, html, keywords=words))
    store.upsert_entries(rows)
    out = tmp_path / "out"
    build_site(store, config(tag_min_items=2), out)
    items = {it.id: it for it in store.iter_items()}
    tagged = [items[r.entry.id] for r in rows]
    segs = urls.tag_segments(["央行", "降准"])
    page = out / segs["央行"] / "index.html"
    html = page.read_text("utf-8")
    assert "#央行" in html
    listed = {resolve(out, page, h) for h in re.findall(r'<h2><a href="([^"]+)"', html)}
    assert listed == {out / rel(it) for it in tagged}
    assert not (out / "t" / urls.segment("孤词")).exists()  # one item: no page
    for name in ("rss.xml", "atom.xml", "feed.json"):
        assert (out / segs["降准"] / name).is_file()
    feed = json.loads((out / segs["降准"] / "feed.json").read_text("utf-8"))
    assert len(feed["items"]) == 2
    # the item page: chips, linked where the tag has a page
    first = out / rel(tagged[2])
    chips = first.read_text("utf-8").split('<ul class="chips tags"')[1].split("</ul>")[0]
    hrefs = re.findall(r'href="([^"]+)"', chips)
    assert [resolve(out, first, h) for h in hrefs] == [page]
    assert "<span>#孤词</span>" in chips
    # the categories page: a cloud of the tags with a page
    cats = out / "categories" / "index.html"
    cloud = cats.read_text("utf-8").split('<p class="cloud">')[1].split("</p>")[0]
    assert {resolve(out, cats, h) for h in re.findall(r'href="([^"]+)"', cloud)} == {
        out / segs["央行"] / "index.html", out / segs["降准"] / "index.html"}
    assert 'class="w5"' in cloud and 'class="w1"' in cloud  # 4 items against 2


def test_a_storys_other_members_are_not_on_tag_pages(tmp_path, store_at):
    store = make_store(store_at, n=20)
    srcs = samples.make_sources()[:2]
    newest = next(store.iter_items()).published
    rng = random.Random(4)
    rows = [IngestRow(*samples.entry(srcs[k % 2], 700 + k, newest - timedelta(hours=k + 1), rng), keywords=("油价",))
            for k in range(3)]
    store.upsert_entries(rows)
    first, second = rows[2].entry, rows[1].entry  # oldest first
    store.set_story(first.source_key, first.id, first.id, [1], first.published.timestamp())
    store.set_story(second.source_key, second.id, first.id, [1], second.published.timestamp())
    out = tmp_path / "out"
    build_site(store, config(tag_min_items=2), out)
    page = out / urls.tag_segments(["油价"])["油价"] / "index.html"
    html = page.read_text("utf-8")
    items = {it.id: it for it in store.iter_items()}
    listed = {resolve(out, page, h) for h in re.findall(r'<h2><a href="([^"]+)"', html)}
    assert listed == {out / rel(items[rows[0].entry.id]), out / rel(items[first.id])}
