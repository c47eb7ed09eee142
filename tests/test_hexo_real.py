"""Every post tidings writes builds with real Hexo: no error, no warning, no post dropped (SPEC §4); from a
SQLite and from a PostgreSQL store (store_at)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from hexo_harness import ensure_hexo, hexo_generate, make_site, node_available
from hostile_values import HOSTILE
from util import cli, write_config

pytestmark = [pytest.mark.slow, pytest.mark.hexo,
              pytest.mark.skipif(not node_available(), reason="node is not installed: real Hexo cannot run")]

# Category names come from the operator's tidings.yml; Hexo makes a directory of each under
# public/categories, so they stay short (config refuses longer ones). Titles and authors come from
# strangers' feeds and may be anything.
HOSTILE_CATEGORIES = [v for v in HOSTILE if v.isprintable() and v.strip() and len(v.encode()) <= 60][:12]


def hostile_json_feed() -> bytes:
    items = []
    for i, title in enumerate(HOSTILE):
        items.append({"id": f"hostile-{i}", "url": f"https://example.com/h/{i}", "title": title,
                      "content_html": f"<p>Item {i}: {{{{ not nunjucks }}}} {{% raw %}}</p>\n\n<!-- more -->\n<p>end</p>",
                      "date_published": f"2026-11-{1 + i % 28:02d}T{i % 24:02d}:00:00Z",
                      "authors": [{"name": HOSTILE[(i * 7) % len(HOSTILE)]}]})
    return json.dumps({"version": "https://jsonfeed.org/version/1.1", "title": "hostile", "items": items}).encode()


@pytest.fixture(scope="module")
def hexo_cache():
    return ensure_hexo()


def _written_sources(site: Path) -> set[str]:
    posts = site / "source" / "_posts"
    return {"_posts/" + p.relative_to(posts).as_posix() for p in posts.rglob("*.md")}


def test_hostile_titles_and_demo_feeds_build_with_real_hexo(tmp_path, store_at, server, hexo_cache):
    from tidings.demo import _catalogue, serve_feeds

    site = make_site(tmp_path / "site")
    sources = []
    for k, cat in enumerate(HOSTILE_CATEGORIES):
        url = server.add(f"/hostile{k}.json", hostile_json_feed() if k == 0 else json.dumps(
            {"version": "https://jsonfeed.org/version/1.1", "items": [
                {"id": f"c{k}", "title": f"category test {k}", "content_html": "<p>x</p>",
                 "date_published": "2026-11-20T00:00:00Z"}]}).encode(), content_type="application/feed+json")
        sources.append({"category": cat, "source": HOSTILE_CATEGORIES[-1 - k], "url": url, "limit": 500})
    demo_server, port = serve_feeds()
    try:
        for s in _catalogue():
            sources.append({"category": s["category"], "source": s["source"], "channel": s["channel"],
                            "url": f"http://127.0.0.1:{port}/feeds/{s['file']}", "limit": 100})
        cfg = write_config(tmp_path, sources, hexo={"dir": str(site)}, store=store_at)
        assert cli("run", "-q", "-c", cfg) == 0
    finally:
        demo_server.shutdown()
        demo_server.server_close()

    written = _written_sources(site)
    assert len(written) >= len(HOSTILE) + 60
    result = hexo_generate(site)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.warnings == []
    assert set(result.sources) == written  # every post produced its page, none silently dropped
    assert len(result.posts) == len(written)
    by_title = {p.title for p in result.posts}
    for title in HOSTILE:
        plain = title.strip()
        if plain and plain.isprintable():
            assert any(t.strip() == plain for t in by_title), title
    hostile_pages = [p for p in result.posts if "not nunjucks" in p.html]
    assert len(hostile_pages) == len(HOSTILE)
    for page in hostile_pages:
        # braces reach the page as entities (Nunjucks did not run on them), and neither the blank line
        # nor the source's `<!-- more -->` cut the body or turned it into a code block
        assert "&#123;&#123; not nunjucks &#125;&#125; &#123;% raw %&#125;" in page.html
        assert "<p>end</p>" in page.html and "<pre>" not in page.html


def _seed_with_hexo(tmp_path, store_at, server, fixtures, clean: bool):
    """The seed feed through tidings into a real Hexo site; returns `hexo generate`'s result."""
    site = make_site(tmp_path / "site")
    url = server.add("/sina/finance", (fixtures / "seed" / "feed.xml").read_bytes())
    cfg = write_config(tmp_path, [{"category": "金融", "source": "新浪财经", "channel": "新浪财经－国內", "url": url}],
                       hexo={"dir": str(site), "clean": clean}, store=store_at)
    assert cli("run", "-q", "-c", cfg) == 0
    return hexo_generate(site)


def test_seed_item_cleaned_renders_as_html_not_code(tmp_path, store_at, server, hexo_cache, fixtures):
    result = _seed_with_hexo(tmp_path, store_at, server, fixtures, clean=True)
    assert result.returncode == 0 and result.warnings == []
    (page,) = result.posts
    body = page.html
    assert "<pre>" not in body and "<code>" not in body and "&lt;" not in body
    assert "张志军强调，压实工作责任" in body


def test_seed_item_verbatim_shows_why_cleaning_matters(tmp_path, store_at, server, hexo_cache, fixtures):
    """The contract's own remark: built verbatim, the QR markup after the blank line becomes a code block."""
    (page,) = _seed_with_hexo(tmp_path, store_at, server, fixtures, clean=False).posts
    assert "<pre>" in page.html and "&lt;" in page.html
