"""The built site from a generated store: pages, links, feeds, sitemap, pagination, referrer policy; every store
on SQLite and on PostgreSQL (store_at, module_store_at)."""
from __future__ import annotations

import json
import re
from datetime import UTC
from pathlib import Path
from urllib.parse import unquote
from zoneinfo import ZoneInfo

import pytest
from lxml import etree
from lxml import html as lhtml
from site_helpers import N_ITEMS, NEEDLE_ZH, config, html_files, internal_targets, make_store, resolve

from tidings.publish.site import build_site, urls
from tidings.publish.site.lists import Paginator

BASE = "https://news.example.com/"
NS = {"a": "http://www.w3.org/2005/Atom", "s": "http://www.sitemaps.org/schemas/sitemap/0.9"}


@pytest.fixture(scope="module")
def built(tmp_path_factory, module_store_at):
    tmp = tmp_path_factory.mktemp("site")
    store = make_store(module_store_at)
    report = build_site(store, config(), tmp / "out")
    items = list(store.iter_items())
    store.close()
    return tmp / "out", report, items


def item_file(out: Path, it) -> Path:
    from zoneinfo import ZoneInfo
    local = it.published.astimezone(ZoneInfo("Asia/Shanghai"))
    return out / urls.item_path(local, urls.item_uid(it.source_key, it.id))


def test_every_item_has_its_page(built):
    out, report, items = built
    assert len(items) == N_ITEMS + 1 == report.items
    assert {it.categories[0] for it in items} >= {"金融", "科技", "Tech", "World"}
    assert any(not it.cover for it in items) and any(it.cover for it in items)
    pages = {p for p in out.glob("a/*/*/*/*.html")}
    assert pages == {item_file(out, it) for it in items}
    for it in items[:40]:
        doc = lhtml.fromstring(item_file(out, it).read_bytes())
        assert doc.findtext(".//article/h1") == it.title
        assert doc.xpath("string(//title)") == f"{it.title} - 资讯聚合"
        assert doc.xpath("//p[@class='original']/a/@href") == [it.link]
        assert "阅读原文" in doc.xpath("string(//p[@class='original'])")
        crumbs = doc.xpath("//nav[@class='crumbs']/a/text()")
        assert crumbs == it.categories


def test_no_cover_no_image(built):
    out, _, items = built
    bare = next(it for it in items if not it.cover)
    doc = lhtml.fromstring(item_file(out, bare).read_bytes())
    assert not doc.xpath("//meta[@property='og:image']")
    assert not doc.xpath("//figure[@class='cover']")
    home = lhtml.fromstring((out / "index.html").read_bytes())
    for card in home.xpath("//li[@class='card']"):
        for img in card.xpath(".//img"):
            assert img.get("src"), "an <img> without src is a broken image"


def test_every_internal_link_resolves(built):
    out, _, _ = built
    pages = html_files(out)
    assert len(pages) > N_ITEMS
    checked = 0
    for page in pages:
        for link, target in internal_targets(out, page):
            assert target.is_file(), f"{page.relative_to(out)}: {link} -> {target}"
            checked += 1
    assert checked > 20 * len(pages)


def test_every_page_sends_no_referrer(built):
    out, _, _ = built
    img = re.compile(r"<img\b[^>]*>", re.I)
    for page in html_files(out):
        text = page.read_text("utf-8")
        doc = lhtml.fromstring(text.encode())
        assert doc.xpath("//meta[@name='referrer']/@content") == ["no-referrer"], page
        assert doc.xpath("//title/text()"), page
        assert doc.xpath("//meta[@name='description']/@content"), page
        assert doc.xpath("//meta[@property='og:title']/@content"), page
        for tag in img.findall(text):
            assert 'referrerpolicy="no-referrer"' in tag, (page, tag)


def test_og_image_is_cover(built):
    out, _, items = built
    it = next(it for it in items if it.cover)
    doc = lhtml.fromstring(item_file(out, it).read_bytes())
    assert doc.xpath("//meta[@property='og:image']/@content") == [it.cover]
    assert doc.xpath("//meta[@property='og:url']/@content")[0].startswith(BASE + "a/")


def _walk(out: Path, start: str) -> list[list[str]]:
    """Follow 'older' links from a listing's first page; returns the item paths (under a/) of each page,
    checking that every older page links back to the page before it."""
    pages, page, seen = [], out / start / "index.html", set()
    while page is not None:
        assert page not in seen, f"pagination loops at {page}"
        seen.add(page)
        doc = lhtml.fromstring(page.read_bytes())
        pages.append([resolve(out, page, h).relative_to(out / "a").as_posix()
                      for h in doc.xpath("//li[@class='card']//h2/a/@href")])
        older = doc.xpath("//nav[@class='pager']/a[@rel='next']/@href")
        if not older:
            break
        nxt = resolve(out, page, older[0])
        back = lhtml.fromstring(nxt.read_bytes()).xpath("//nav[@class='pager']/a[@rel='prev']/@href")
        assert resolve(out, nxt, back[0]) == page
        page = nxt
    return pages


def _newest_first(out, items, pred=lambda it: True):
    return [item_file(out, it).relative_to(out / "a").as_posix() for it in items if pred(it)]


@pytest.mark.parametrize("listing", ["home", "category", "channel", "month"])
def test_pagination_has_no_gaps_or_duplicates(built, listing):
    out, _, items = built
    if listing == "home":
        start, want = "", _newest_first(out, items)
    elif listing == "category":
        start, want = "c/" + "金融" + "/", _newest_first(out, items, lambda it: it.category == "金融")
    elif listing == "channel":
        it0 = items[0]
        start = urls.node_segments([tuple(it0.categories)])[tuple(it0.categories)]
        want = _newest_first(out, items, lambda it: it.categories == it0.categories)
    else:
        start = "archives/2024/06/"
        want = [p for p in _newest_first(out, items) if p.startswith("2024/06/")]
    pages = _walk(out, start)
    got = [h for page in pages for h in page]
    assert got == want  # same items, same order: no gap, no duplicate
    per = 10
    assert all(len(p) == per for p in pages[1:]), [len(p) for p in pages]
    assert per <= len(pages[0]) < 2 * per or len(pages) == 1
    if len(want) >= 3 * per:
        assert len(pages) >= 2


def test_stable_pagination_numbers_from_the_oldest():
    # Page k keeps the same items when newer items arrive.
    before, after = Paginator("", 95, 10), Paginator("", 96, 10)
    assert before.page_of(94) == after.page_of(95) == 1
    assert [before.page_of(r) for r in range(95)].count(0) == 15
    assert after.page(8).newer == "index.html" and before.page(8).newer == "index.html"
    assert Paginator("", 100, 10).page(9).newer == "index.html"


def test_feeds_are_valid_and_list_the_right_items(built):
    out, _, items = built
    newest = [BASE + urls.href(item_file(out, it).relative_to(out).as_posix()) for it in items[:20]]
    rss = etree.parse(str(out / "rss.xml"))
    assert rss.getroot().tag == "rss" and rss.getroot().get("version") == "2.0"
    assert rss.xpath("/rss/channel/item/link/text()") == newest
    assert rss.xpath("/rss/channel/item/title/text()") == [it.title for it in items[:20]]
    atom = etree.parse(str(out / "atom.xml"))
    assert atom.xpath("/a:feed/a:entry/a:id/text()", namespaces=NS) == newest
    assert atom.xpath("/a:feed/a:link[@rel='self']/@href", namespaces=NS) == [BASE + "atom.xml"]
    feed = json.loads((out / "feed.json").read_text("utf-8"))
    assert feed["version"] == "https://jsonfeed.org/version/1.1"
    assert [i["url"] for i in feed["items"]] == newest
    assert feed["items"][0]["external_url"] == items[0].link
    # one feed per category node, with only that node's items
    fin = [it for it in items if it.category == "金融"][:20]
    node = out / "c" / "金融"
    links = etree.parse(str(node / "rss.xml")).xpath("/rss/channel/item/link/text()")
    assert links == [BASE + urls.href(item_file(out, it).relative_to(out).as_posix()) for it in fin]
    for sub in [p.parent for p in (out / "c").rglob("index.html") if "page" not in p.parts]:
        for name in ("rss.xml", "atom.xml"):
            etree.parse(str(sub / name))
        json.loads((sub / "feed.json").read_text("utf-8"))
    ours = [u for f in out.rglob("*.xml")
            for u in re.findall(r'(?:<link [^>]*rel="(?:self|alternate)"[^>]*href="|<link>|<loc>|<id>|<guid[^>]*>)([^"<]+)',
                                f.read_text())]
    assert len(ours) > 100 and all(u.startswith(BASE) for u in ours), [u for u in ours if not u.startswith(BASE)][:5]


def test_sitemap(built):
    """sitemap.xml is an index: the listings' file, then one file per day of items, newest first."""
    out, _, items = built
    index = etree.parse(str(out / "sitemap.xml"))
    assert index.getroot().tag == "{http://www.sitemaps.org/schemas/sitemap/0.9}sitemapindex"
    files = [unquote(loc[len(BASE):]) for loc in index.xpath("//s:sitemap/s:loc/text()", namespaces=NS)]
    days = sorted({it.published.astimezone(ZoneInfo("Asia/Shanghai")).date() for it in items}, reverse=True)
    assert files == ["sitemaps/pages.xml", *(f"sitemaps/{d:%Y-%m-%d}.xml" for d in days)]
    locs = [loc for f in files for loc in etree.parse(str(out / f)).xpath("//s:url/s:loc/text()", namespaces=NS)]
    assert len(locs) == len(set(locs))
    for it in items:
        assert BASE + urls.href(item_file(out, it).relative_to(out).as_posix()) in locs
    assert BASE in locs and BASE + "categories/" in locs
    for loc in locs:
        rel = unquote(loc[len(BASE):])
        assert (out / rel / "index.html" if rel.endswith("/") or not rel else out / rel).is_file(), loc


def test_category_tree_and_archives(built):
    out, _, items = built
    doc = lhtml.fromstring((out / "categories" / "index.html").read_bytes())
    names = doc.xpath("//ul[@class='tree']/li/a/text()")
    assert "金融" in names and "Odd / Names" in names
    fin = doc.xpath("//ul[@class='tree']/li[a='金融']/span[@class='count']/text()")
    assert fin == [str(sum(1 for it in items if it.category == "金融"))]
    # odd names become safe path segments
    odd = [p for p in (out / "c").iterdir() if p.name.startswith("Odd")]
    assert [p.name for p in odd] == ["Odd-Names"]
    assert (odd[0] / "A-B-C" / "1-chan" / "index.html").is_file()
    arch = lhtml.fromstring((out / "archives" / "index.html").read_bytes())
    months = arch.xpath("//ul[@class='months']/li/a/text()")
    assert months[0] == "2024-06" and "2024-05" in months
    assert (out / "archives" / "2024" / "index.html").is_file()


def test_prev_next_within_channel(built):
    out, _, items = built
    chan = items[0].categories
    same = [it for it in items if it.categories == chan]
    mid = lhtml.fromstring(item_file(out, same[1]).read_bytes())
    newer = mid.xpath("//nav[@class='adjacent']/a[@rel='prev']/span/text()")
    older = mid.xpath("//nav[@class='adjacent']/a[@rel='next']/span/text()")
    assert newer == [same[0].title] and older == [same[2].title]
    first = lhtml.fromstring(item_file(out, same[0]).read_bytes())
    assert not first.xpath("//nav[@class='adjacent']/a[@rel='prev']")


def test_english_ui_strings(tmp_path, store_at):
    store = make_store(store_at, n=12)
    build_site(store, config(language="en", timezone="UTC"), tmp_path / "out")
    page = next((tmp_path / "out" / "a").rglob("*.html")).read_text("utf-8")
    assert "Original article" in page and "阅读原文" not in page
    assert '<html lang="en">' in page


def test_theme_dir_overrides_a_template(tmp_path, store_at):
    store = make_store(store_at, n=12)
    theme = tmp_path / "theme"
    (theme / "static").mkdir(parents=True)
    (theme / "404.html").write_text("{% extends 'base.html' %}{% block main %}THEMED 404{% endblock %}")
    (theme / "static" / "style.css").write_text("body{color:red}")
    build_site(store, config(theme_dir=theme), tmp_path / "out")
    assert "THEMED 404" in (tmp_path / "out" / "404.html").read_text()
    assert (tmp_path / "out" / "static" / "style.css").read_text() == "body{color:red}"


def test_needle_page_exists(built):
    out, _, items = built
    it = next(it for it in items if NEEDLE_ZH in it.title)
    assert NEEDLE_ZH in item_file(out, it).read_text("utf-8")


def test_empty_store_and_hostile_link(tmp_path, store_at):
    from datetime import datetime

    from tidings.model import Entry, Source
    from tidings.store import IngestRow, open_store
    store = open_store(store_at)
    store.sync_sources([Source(url="https://feeds.example.com/x.xml", category="测试", source="源", channel="")])
    report = build_site(store, config(search=True), tmp_path / "out")
    assert report.items == 0 and (tmp_path / "out" / "index.html").is_file()
    etree.parse(str(tmp_path / "out" / "rss.xml"))
    e = Entry(source_key="https://feeds.example.com/x.xml", id="0123456789abcdef", title="<b>标题</b>",
              link="javascript:alert(1)", published=datetime(2024, 1, 2, tzinfo=UTC),
              content="<p>正文<img src='https://img.example.com/a.png'></p>")
    store.upsert_entries([IngestRow(e, e.content)])
    build_site(store, config(search=True, theme_dir=str(tmp_path / "no-theme")), tmp_path / "out")
    page = next((tmp_path / "out" / "a").rglob("*.html")).read_text("utf-8")
    assert "javascript:" not in page and "&lt;b&gt;标题&lt;/b&gt;" in page
    assert '<img referrerpolicy="no-referrer" src=' in page
    store.close()
