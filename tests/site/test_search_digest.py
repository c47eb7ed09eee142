"""The search digest of a bundled item page is its `<article data-pagefind-body>` alone, everything Pagefind reads
of such a page: a new item, which changes its older neighbour's page outside that element, re-indexes only its
own shard."""
from __future__ import annotations

import hashlib
import random
import re
from datetime import timedelta

from site_helpers import config, make_store

from tidings.publish.site import build_site, manifest, samples, search
from tidings.store import IngestRow

ARTICLE = manifest.ARTICLE_START.decode()
PAGE = (f'<!doctype html><html lang="zh-CN"><head><script>x()</script></head><body><header>站点</header>'
        f'{ARTICLE}<h1>标题</h1><div class="content"><article><p>正文</p></article></div></article>'
        '<nav class="adjacent"><a href="../b.html">旧闻</a></nav><footer>页脚</footer></body></html>')


def test_the_article_alone_counts_for_a_bundled_page():
    digest = manifest.search_digest("a/2024/06/30/x.html", PAGE.encode(), article=True)
    inner = PAGE[PAGE.index(ARTICLE):PAGE.rindex("</article>")]
    assert digest == hashlib.sha256(inner.encode()).hexdigest()  # the body's own </article> is inside it
    for outside in (("旧闻", "新闻"), ("页脚", "底部"), ("站点", "网站"), ("x()", "y()")):
        assert manifest.search_digest("a/2024/06/30/x.html", PAGE.replace(*outside).encode(), article=True) == digest
    for inside in (("标题", "题目"), ("正文", "全文")):
        assert manifest.search_digest("a/2024/06/30/x.html", PAGE.replace(*inside).encode(), article=True) != digest
    # Without `article` (a theme's templates), or without the element: the whole body, as before.
    body = PAGE[PAGE.index("<body"):].replace("<script>x()</script>", "")
    assert manifest.search_digest("a/x.html", PAGE.encode()) == hashlib.sha256(body.encode()).hexdigest()
    assert manifest.search_digest("a/x.html", PAGE.replace("旧闻", "新闻").encode()) != \
        manifest.search_digest("a/x.html", PAGE.encode())
    bare = PAGE.replace(ARTICLE, "<article>")
    assert manifest.search_digest("a/x.html", bare.encode(), article=True) == manifest.search_digest("a/x.html",
                                                                                                     bare.encode())
    assert manifest.search_digest("index.html", PAGE.encode(), article=True) == ""


def test_pagefind_reads_nothing_of_a_bundled_item_page_outside_its_article(tmp_path, store_at):
    store = make_store(store_at)
    out = tmp_path / "out"
    build_site(store, config(search=True), out)
    store.close()
    pages = sorted((out / "a").rglob("*.html"))
    assert pages
    for page in pages[:50]:
        html = page.read_text("utf-8")
        assert html.count(ARTICLE) == 1, page
        start, end = html.index(ARTICLE), html.rindex("</article>")
        outside = html[:start] + html[end:]
        # what Pagefind takes from anywhere on a page: its metadata, filters and sort keys, and a title (h1) or
        # image (img) when none is given
        assert not re.search(r"data-pagefind-(?:meta|filter|sort|weight|index-attrs|body)|<h1|<img", outside), page


def test_a_new_item_reindexes_only_its_own_shard(tmp_path, store_at, monkeypatch):
    """The same new items built into two sites: one whose digests are of the article (as tidings makes them), one
    whose digests are of the whole body (before; forced here). The second re-indexes the shard of a new item's
    older neighbour too, when that neighbour is in another shard; the first never does. (Both re-index more than
    one shard when a new item makes its day's shards split anew: search.plan.)"""
    monkeypatch.setattr(search, "SHARD_MAX", 12)
    store = make_store(store_at)
    article_out, body_out = tmp_path / "article", tmp_path / "body"
    whole_body = manifest.search_digest

    def build(out):
        if out is article_out:
            return build_site(store, config(search=True), out)
        with monkeypatch.context() as m:
            m.setattr(manifest, "search_digest", lambda path, data, article=False: whole_body(path, data))
            return build_site(store, config(search=True), out)

    for out in (article_out, body_out):
        first = build(out)
        assert first.search_shards > 10 and first.search_indexed == first.search_shards
    newest = next(store.iter_items())
    sources = {s.key: s for s in samples.make_sources()}
    indexed = {article_out: [], body_out: []}
    for k in range(6):
        src = list(sources.values())[k % len(sources)]
        e, html = samples.entry(src, 90_000 + k, newest.published + timedelta(minutes=5 * (k + 1)), random.Random(k))
        store.upsert_entries([IngestRow(e, html)])
        for out in (article_out, body_out):
            report = build(out)
            assert report.written > 1  # the new page, its neighbour's, listings ...
            indexed[out].append(report.search_indexed)
    store.close()
    assert all(a <= b for a, b in zip(indexed[article_out], indexed[body_out]))
    assert sum(indexed[article_out]) < sum(indexed[body_out])  # a neighbour in another shard did happen
