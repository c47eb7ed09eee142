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

from tidings.publish.site import build_site, samples, urls
from tidings.store import IngestRow

TZ = ZoneInfo("Asia/Shanghai")


def rel(it) -> str:
    return urls.item_path(it.published.astimezone(TZ), urls.item_uid(it.source_key, it.id))


def listed(out: Path, it) -> list[str]:
    """The site files (pages and feeds) that link to or list the item's page."""
    page = rel(it)
    name = page.rsplit("/", 1)[1]
    return sorted(str(p.relative_to(out)) for p in [*out.rglob("*.html"), *out.rglob("*.xml"), *out.rglob("*.json")]
                  if name in p.read_text("utf-8") and str(p.relative_to(out)) != page
                  and not str(p.relative_to(out)).startswith(("a/", "_pagefind")) and p.name not in ("sitemap.xml", ".tidings-manifest.json"))


@pytest.fixture
def site(tmp_path):
    store = make_store(tmp_path / "t.db")
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
        store.set_story(it.source_key, it.id, head.id, [1])
    out = tmp_path / "out"
    build_site(store, config(), out)
    return store, out, members


def test_a_story_is_listed_once_under_its_first_item(site):
    store, out, (head, *others) = site
    where = listed(out, head)
    assert "index.html" in where or any(w.startswith("archives/") for w in where), where
    assert any(w.endswith("rss.xml") for w in where) and any(w.endswith("feed.json") for w in where), where
    for o in others:
        assert listed(out, o) == [], listed(out, o)  # in no listing, no feed
        assert (out / rel(o)).is_file()  # but with a page of its own
    # the listings' counts leave the other members out: every listed card is one page, pagination intact
    cards = sum(len(re.findall(r'<li class="card', p.read_text("utf-8")))
                for p in [out / "index.html", *out.glob("page/*/index.html")])
    assert cards == store.count_items() - len(others)


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
    src = next(s for s in samples.make_sources() if s.key not in {m.source_key for m in (head, *others)})
    e, html = samples.entry(src, 77_777, head.published + timedelta(hours=2), random.Random(5))
    store.upsert_entries([IngestRow(e, html)])
    store.set_story(src.key, e.id, head.id, [1])
    report = build_site(store, config(), out)
    new = next(it for it in store.iter_items() if it.id == e.id)
    chan = [it for it in store.iter_items(newest_first=False) if it.categories == new.categories]
    k = [c.id for c in chan].index(new.id)
    neighbours = {rel(c) for c in chan[max(k - 1, 0):k + 2]}  # its page and its channel neighbours' pages
    written = set(report.written_files)
    assert rel(new) in written and rel(head) in written  # the first item's page lists the new member
    assert written <= neighbours | {rel(head), "sitemap.xml", ".tidings-manifest.json"}, written - neighbours
    assert not {w for w in written if w.endswith(("index.html", ".xml", ".json")) and w != "sitemap.xml"}
    assert new.title in (out / rel(head)).read_text("utf-8")
