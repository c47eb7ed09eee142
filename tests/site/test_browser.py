"""The real check: a browser (Debian's Chromium, driven by playwright) uses the built site served by
serve(): home, a category, an article, and a Chinese search merged from several Pagefind shards."""
from __future__ import annotations

import struct
import threading
import zlib
from pathlib import Path

import pytest
from site_helpers import NEEDLE_EN, NEEDLE_ZH, config, make_store

from tidings.publish.site import build_site, make_server

CHROMIUM = Path("/usr/bin/chromium")
SHOTS = Path(__file__).resolve().parents[2] / "test-output" / "screenshots"

pytestmark = [pytest.mark.slow, pytest.mark.browser,
              pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium "
                                 "(apt-get install -y chromium fonts-noto-cjk)")]


def _png(w: int = 320, h: int = 200) -> bytes:
    raw = b"".join(b"\x00" + bytes([200, 120, 60]) * w for _ in range(h))
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The site the browser uses, built from a SQLite store only: a browser run costs about 25 s, and what the
    browser sees is the built files, which test_site.py, test_incremental.py and the others check to be the same
    from a PostgreSQL store."""
    from tidings.publish.site import search
    old, search.SHARD_MAX = search.SHARD_MAX, 40  # several shards, merged in the browser
    try:
        tmp = tmp_path_factory.mktemp("browser")
        store = make_store(tmp / "t.db")
        report = build_site(store, config(search=True), tmp / "out")
        store.close()
    finally:
        search.SHARD_MAX = old
    assert report.search_shards >= 3
    server = make_server(tmp / "out", 0, verbose=False)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run",
            # Without the trap handler each WebAssembly memory (one per Pagefind shard) reserves ~10 GB of
            # address space; under an address-space limit (CI's) instantiation then fails. Bounds checks instead.
            "--disable-features=WebAssemblyTrapHandler"])
        yield b
        b.close()


@pytest.fixture
def page(browser, site):
    ctx = browser.new_context(viewport={"width": 1100, "height": 900}, locale="zh-CN")
    png = _png()
    external = []

    def route(r):  # no network: cover images come from a made-up host, answer them locally
        if r.request.url.startswith(site):
            r.continue_()
        else:
            external.append(r.request.url)
            r.fulfill(status=200, content_type="image/png", body=png)

    ctx.route("**/*", route)
    pg = ctx.new_page()
    errors: list[str] = []
    pg.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    pg.on("pageerror", lambda e: errors.append(str(e)))
    # anything of the site's that does not load (a missing stylesheet, script, index file or icon)
    pg.on("response", lambda r: errors.append(f"{r.status} {r.url}") if r.url.startswith(site) and r.status >= 400
          else None)
    pg.errors = errors
    yield pg
    ctx.close()


def _check_images(pg):
    policies = pg.eval_on_selector_all("img", "els => els.map(e => e.getAttribute('referrerpolicy'))")
    assert all(p == "no-referrer" for p in policies), policies
    assert pg.eval_on_selector("meta[name=referrer]", "e => e.content") == "no-referrer"


def _wait_for_results(pg, first):
    try:
        first.wait_for(timeout=20_000)
    except Exception as e:  # say what the page says and what failed, not only "timeout"
        raise AssertionError(f"no search results: status {pg.locator('#search-status').inner_text()!r}, "
                             f"errors {pg.errors}") from e


def _shot(pg, name):
    SHOTS.mkdir(parents=True, exist_ok=True)
    pg.screenshot(path=str(SHOTS / f"{name}.png"), full_page=False)


def test_home_category_article(page, site):
    pg = page
    pg.goto(site)
    assert pg.title() == "资讯聚合"
    assert pg.locator("ol.cards li.card").count() >= 10
    assert pg.locator("ol.cards img").count() >= 1
    _check_images(pg)
    _shot(pg, "home")
    pg.emulate_media(color_scheme="dark")
    pg.set_viewport_size({"width": 390, "height": 844})
    _shot(pg, "home-dark-mobile")
    assert pg.evaluate("getComputedStyle(document.body).backgroundColor") != "rgb(253, 253, 252)"
    pg.emulate_media(color_scheme="light")
    pg.set_viewport_size({"width": 1100, "height": 900})
    pg.click("ul.chips a:has-text('金融')")
    pg.wait_for_load_state()
    assert "/c/%E9%87%91%E8%9E%8D/" in pg.url
    assert pg.locator("h1.page-title").inner_text().startswith("金融")
    _check_images(pg)
    _shot(pg, "category")
    pg.locator("ol.cards h2 a").first.click()
    pg.wait_for_load_state()
    assert "/a/" in pg.url
    assert pg.locator("article.post h1").count() == 1
    assert pg.locator("p.original a").inner_text().startswith("阅读原文")
    _check_images(pg)
    _shot(pg, "article")
    pg.locator("nav.adjacent a.older").click()
    pg.wait_for_load_state()
    assert "/a/" in pg.url
    assert not pg.errors, pg.errors


@pytest.mark.parametrize("query,name", [(NEEDLE_ZH, "search-zh"), (NEEDLE_EN, "search-en")])
def test_search(page, site, query, name):
    pg = page
    pg.goto(site)
    pg.fill("form.search-form input[name=q]", query)
    pg.press("form.search-form input[name=q]", "Enter")
    pg.wait_for_load_state()
    assert "/search/" in pg.url
    first = pg.locator("#search-results li a").first
    _wait_for_results(pg, first)
    texts = pg.locator("#search-results li").all_inner_texts()
    assert any(NEEDLE_ZH in t or NEEDLE_EN in t.lower() for t in texts), texts
    _check_images(pg)
    _shot(pg, name)
    first.click()
    pg.wait_for_load_state()
    assert NEEDLE_ZH in pg.locator("article.post").inner_text()
    assert not pg.errors, pg.errors


def test_search_typing_finds_chinese(page, site):
    pg = page
    pg.goto(site + "search/")
    pg.locator("#search-input").press_sequentially(NEEDLE_ZH, delay=30)
    _wait_for_results(pg, pg.locator("#search-results li a").first)
    assert NEEDLE_ZH in pg.locator("#search-results").inner_text()
    assert not pg.errors, pg.errors


def test_search_says_when_the_index_cannot_load(page, site):
    pg = page
    pg.route("**/_pagefind/**", lambda r: r.abort())
    pg.goto(site + "search/?q=" + NEEDLE_EN)
    status = pg.locator("#search-status")
    status.filter(has_text="无法加载").wait_for(timeout=20_000)
    assert pg.locator("#search-results li").count() == 0
