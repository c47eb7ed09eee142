"""Stories on the built site (SPEC §10): a story is listed once, under its earliest item, in every listing
and feed; that item's page lists the others and every other member's page links to it; a new member
rewrites only the pages it changes."""
from __future__ import annotations

import random
import re
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from site_helpers import config, html_files, make_store, resolve

from tidings.model import ItemState
from tidings.publish.site import build_site, samples, urls
from tidings.store import IngestRow

TZ = ZoneInfo("Asia/Shanghai")


def rel(it) -> str:
    return urls.item_path(it.published.astimezone(TZ), urls.item_uid(it.source_key, it.id))


@pytest.fixture
def site(tmp_path, store_at):
    store = make_store(store_at)
    items = list(store.iter_items(newest_first=False))
    # three items of three different sources, a few hours apart: one story, first = the oldest
    members, seen = [], set()
    for it in items[40:]:
        if it.source_key not in seen:
            members.append(it)
            seen.add(it.source_key)
        if len(members) == 3:
            break
    head = members[0]
    for it in members:
        store.set_story(it.source_key, it.id, head.id, [1], it.published.timestamp())
    out = tmp_path / "out"
    build_site(store, config(), out)
    return store, out, members


def _files_listing(out: Path, base: str) -> list[Path]:
    """A listing's pages and feeds: <base>index.html, <base>page/*/index.html, <base>{rss,atom}.xml, feed.json."""
    d = out / base
    return [p for p in [d / "index.html", *d.glob("page/*/index.html"), d / "rss.xml", d / "atom.xml",
                        d / "feed.json"] if p.is_file()]


def _in(out: Path, base: str, it) -> bool:
    name = rel(it).rsplit("/", 1)[1]
    return any(name in p.read_text("utf-8") for p in _files_listing(out, base))


def test_each_listing_shows_a_story_once(site):
    store, out, members = site
    head, *others = members
    assert _in(out, "", head) and not any(_in(out, "", o) for o in others)  # home and the site's feeds
    segs = urls.node_segments([tuple(m.categories) for m in members])
    local = head.published.astimezone(TZ)
    month = f"archives/{local:%Y/%m}/"
    for k, o in enumerate(others, 1):
        assert (out / rel(o)).is_file()  # every member keeps its page
        earlier = members[:k]
        for depth in range(1, len(o.categories) + 1):
            node = tuple(o.categories[:depth])
            shared = any(tuple(m.categories[:depth]) == node for m in earlier)
            # a category lists the earliest member it holds, and only that one
            assert _in(out, segs[node], o) is not shared, (node, shared)
        same_month = any(m.published.astimezone(TZ).strftime("%Y%m") == o.published.astimezone(TZ).strftime("%Y%m")
                         for m in earlier)
        if o.published.astimezone(TZ).strftime("%Y/%m") == f"{local:%Y/%m}":
            assert _in(out, month, o) is not same_month
    # the listings' counts leave the hidden members out: every card of the home listing is one item
    cards = sum(len(re.findall(r'<li class="card', p.read_text("utf-8")))
                for p in [out / "index.html", *out.glob("page/*/index.html")])
    assert cards == store.count_items() - len(others)


def test_a_category_whose_only_item_is_a_later_member_keeps_its_page(tmp_path, store_at):
    store = make_store(store_at, n=30)
    srcs = samples.make_sources()
    first = next(store.iter_items())
    other = next(s for s in srcs if s.category != next(x for x in srcs if x.key == first.source_key).category)
    store.sync_sources(srcs)
    e, html = samples.entry(other, 88_888, first.published + timedelta(hours=1), random.Random(9))
    store.upsert_entries([IngestRow(e, html)])
    # the other category's only item
    for it in list(store.iter_items()):
        if it.categories[0] == other.category and it.id != e.id:
            store.set_state(it.source_key, it.id, ItemState.PRUNED)
    store.set_story(first.source_key, first.id, first.id, [1], first.published.timestamp())
    store.set_story(other.key, e.id, first.id, [1], e.published.timestamp())
    out = tmp_path / "out"
    build_site(store, config(), out)
    late = next(it for it in store.iter_items() if it.id == e.id)
    seg = urls.node_segments([tuple(late.categories)])[(other.category,)]
    assert _in(out, seg, late) and not _in(out, "", late)
    page = out / rel(late)
    for link in re.findall(r'<nav class="crumbs">(.*?)</nav>', page.read_text("utf-8"))[0].split("</a>")[:-1]:
        assert resolve(out, page, re.search(r'href="([^"]+)"', link)[1]).is_file()


def test_the_first_items_page_lists_the_others_and_they_link_back(site):
    store, out, (head, *others) = site
    page = out / rel(head)
    html = page.read_text("utf-8")
    section = html[html.index('<section class="story"'):html.index("</section>")]
    links = re.findall(r'<a href="([^"]+)">', section)
    assert [resolve(out, page, link) for link in links] == [out / rel(o) for o in others]
    for o in others:
        assert o.title in section and o.source in section and o.link in section
        other = (out / rel(o)).read_text("utf-8")
        lead = other[other.index('class="story story-lead"'):]
        href = re.search(r'<a href="([^"]+)">', lead)[1]
        assert resolve(out, out / rel(o), href) == page and head.title in lead
    # every link of every page still resolves
    for p in html_files(out):
        for link in re.findall(r'<section class="story".*?</section>', p.read_text("utf-8"), re.S):
            for href in re.findall(r'href="([^"]+)"', link):
                if not href.startswith("http"):
                    assert resolve(out, p, href).is_file(), (p, href)


def test_a_new_member_rewrites_only_the_pages_it_changes(site):
    store, out, (head, *others) = site
    # from the channel of a member already there: every listing it is in already shows the story
    src = next(s for s in samples.make_sources() if s.key == others[0].source_key)
    last = max(m.published for m in (head, *others))
    e, html = samples.entry(src, 77_777, last + timedelta(minutes=30), random.Random(5))
    store.upsert_entries([IngestRow(e, html)])
    store.set_story(src.key, e.id, head.id, [1], e.published.timestamp())
    report = build_site(store, config(), out)
    new = next(it for it in store.iter_items() if it.id == e.id)
    chan = [it for it in store.iter_items(newest_first=False) if it.categories == new.categories]
    k = [c.id for c in chan].index(new.id)
    neighbours = {rel(c) for c in chan[max(k - 1, 0):k + 2]}  # its page and its channel neighbours' pages
    written = set(report.written_files)
    assert rel(new) in written and rel(head) in written  # the first item's page lists the new member
    day_map = f"sitemaps/{new.published.astimezone(TZ):%Y-%m-%d}.xml"
    assert written <= neighbours | {rel(head), "sitemap.xml", day_map}, written - neighbours
    assert not {w for w in written if w.endswith(("index.html", ".xml", ".json")) and w not in ("sitemap.xml", day_map)}
    assert new.title in (out / rel(head)).read_text("utf-8")
