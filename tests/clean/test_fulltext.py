"""Full text: extraction from a cluttered page, the SSRF guard, and the guarded fetcher.

A threaded http.server on 127.0.0.1 serves the pages; nothing leaves the machine. Redirect hops to
private addresses are tested with an injected resolver and httpx.MockTransport (no DNS needed).
"""
from __future__ import annotations

import asyncio
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import lxml.html
import pytest

from tidings.clean import extract_article, fetch_article
from tidings.http import (
    BlockedAddress,
    FetchError,
    Limits,
    blocked_reason,
    check_public_url,
    decode_html,
)

ARTICLE = (Path(__file__).parents[1] / "fixtures" / "clean" / "article.html").read_bytes()
STORY = [f"STORY-{i}" for i in range(1, 8)]
CLUTTER = ["SIDEBAR-1", "SIDEBAR-2", "SIDEBAR-3", "COMMENT-1", "COMMENT-2", "ADVERT", "FOOTER", "首页",
           "国内新闻频道", "分享到微博", "广告位招商热线", "发表评论"]
GBK_PAGE = ('<html><head><meta http-equiv="Content-Type" content="text/html; charset=gb2312"></head>'
            '<body><p>长春市委书记凌晨2点开会</p></body></html>').encode("gbk")


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args) -> None:  # keep pytest output clean
        pass

    def _send(self, status: int, body: bytes = b"", ctype: str = "text/html; charset=utf-8",
              headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        self.server.hits.append(self.path)  # type: ignore[attr-defined]
        p = self.path
        if p == "/news/2024/03/river.html":
            self._send(200, ARTICLE)
        elif p == "/redirect":
            self._send(302, headers={"Location": "/news/2024/03/river.html"})
        elif p == "/loop":
            self._send(301, headers={"Location": "/loop"})
        elif p == "/to-metadata":
            self._send(302, headers={"Location": "http://169.254.169.254/latest/meta-data/"})
        elif p == "/gbk":
            self._send(200, GBK_PAGE, ctype="text/html")
        elif p == "/big":
            self._send(200, b"<p>" + b"x" * 200_000 + b"</p>")
        elif p == "/json":
            self._send(200, b"{}", ctype="application/json")
        else:
            self._send(404, b"not found")


@pytest.fixture(scope="module")
def server():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.hits = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def url(server, path: str) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}{path}"


def run(coro):
    return asyncio.run(coro)


async def fetch(target: str, **kw) -> str:
    async with httpx.AsyncClient() as client:
        return await fetch_article(client, target, **kw)


# --- extraction ----------------------------------------------------------------------------------------

def test_extract_article_keeps_story_drops_clutter() -> None:
    page = ARTICLE.decode("utf-8")
    out = extract_article(page, "https://news.example.com/news/2024/03/river.html")
    assert out
    root = lxml.html.fragment_fromstring(out, create_parent="div")
    text = root.text_content()
    paragraphs = [p.text_content() for p in root.iter("p") if p.text_content().strip()]
    story = [p for p in paragraphs if p.startswith("STORY-")]
    assert [p.split()[0] for p in story] == STORY  # all story paragraphs, in order, whole
    source = lxml.html.fromstring(page)
    for p in source.iter("p"):
        if p.text_content().startswith("STORY-"):
            assert p.text_content() in story
    for junk in CLUTTER:
        assert junk not in text, junk
    srcs = [img.get("src") for img in root.iter("img")]
    assert srcs == ["https://news.example.com/images/2024/03/river-low-water.jpg",
                    "https://img.example.com/2024/03/shipping-lane.jpg"]
    assert all(img.get("referrerpolicy") == "no-referrer" for img in root.iter("img"))
    assert not list(root.iter("script")) and "hm.baidu.com" not in out
    assert "\n\n" not in out


def test_extract_article_applies_site_rules_first() -> None:
    page = ARTICLE.decode("utf-8").replace('<div class="editor">', '<p class="article-editor">').replace(
        "责任编辑：王芳</div>", "责任编辑：王芳</p>")
    with_rules = extract_article(page, "https://finance.sina.com.cn/x.shtml")
    assert with_rules and "责任编辑" not in with_rules and "STORY-7" in with_rules


@pytest.mark.parametrize("page", ["", "   ", "<html><body><nav><a href='/'>home</a></nav></body></html>"])
def test_extract_article_none_when_no_article(page: str) -> None:
    assert extract_article(page, "https://example.com/") is None


# --- check_public_url ----------------------------------------------------------------------------------

@pytest.mark.parametrize("target", [
    "http://127.0.0.1/x", "http://10.0.0.1/", "http://[::1]/", "http://169.254.169.254/latest/meta-data/",
    "http://192.168.1.1/", "http://172.16.0.1/", "http://100.64.0.1/", "http://0.0.0.0/", "http://224.0.0.1/",
    "http://240.0.0.1/", "http://[fe80::1]/", "http://[fc00::1]/", "http://[::ffff:127.0.0.1]/",
    "http://[::ffff:10.0.0.1]/", "http://[64:ff9b::a9fe:a9fe]/", "http://[2002:a00:1::]/", "http://[::]/",
    "http://[ff02::1]/", "http://localhost/", "http://127.1/", "http://2130706433/",
])
def test_check_public_url_refuses_non_public(target: str) -> None:
    with pytest.raises(BlockedAddress):
        check_public_url(target)


@pytest.mark.parametrize("target", ["ftp://example.com/", "file:///etc/passwd", "gopher://x/", "javascript:alert(1)",
                                    "http:///nohost", "//example.com/x"])
def test_check_public_url_refuses_other_schemes(target: str) -> None:
    with pytest.raises(BlockedAddress):
        check_public_url(target, allow_private=True)


def test_check_public_url_uses_resolver_and_checks_every_address() -> None:
    def public(host: str, port: int) -> list[str]:
        return ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"]

    assert check_public_url("https://news.example/a", resolve=public) == [
        "93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"]

    def mixed(host: str, port: int) -> list[str]:
        return ["93.184.216.34", "10.1.2.3"]  # one bad answer is enough to refuse

    with pytest.raises(BlockedAddress):
        check_public_url("https://news.example/a", resolve=mixed)
    seen = []
    check_public_url("http://news.example:8080/a", resolve=lambda h, p: seen.append((h, p)) or ["8.8.8.8"])
    assert seen == [("news.example", 8080)]


def test_check_public_url_allow_private_skips_address_check() -> None:
    assert check_public_url("http://127.0.0.1/x", allow_private=True) == []
    assert check_public_url("http://10.0.0.1/", allow_private=True) == []


def test_unresolvable_host_is_a_fetch_error() -> None:
    def fail(host, port):
        raise OSError("no such host")
    with pytest.raises(FetchError) as e:
        check_public_url("http://nowhere.invalid/", resolve=fail)
    assert not isinstance(e.value, BlockedAddress)


def test_blocked_reason_public_addresses() -> None:
    assert blocked_reason("8.8.8.8") is None
    assert blocked_reason("2001:4860:4860::8888") is None
    assert "carrier-grade" in blocked_reason("100.100.1.1")


# --- fetch_article ---------------------------------------------------------------------------------

def test_fetch_refuses_local_server_by_default(server) -> None:
    before = len(server.hits)
    with pytest.raises(BlockedAddress):
        run(fetch(url(server, "/news/2024/03/river.html")))
    assert len(server.hits) == before  # refused before any request was sent


def test_fetch_with_allow_private_gets_the_page(server) -> None:
    html = run(fetch(url(server, "/news/2024/03/river.html"), allow_private=True))
    assert "STORY-7" in html and "长江流域春季水位调查" in html
    out = extract_article(html, url(server, "/news/2024/03/river.html"))
    assert out and "STORY-1" in out and "SIDEBAR-1" not in out


def test_fetch_follows_redirects_itself(server) -> None:
    html = run(fetch(url(server, "/redirect"), allow_private=True))
    assert "STORY-1" in html
    assert server.hits[-2:] == ["/redirect", "/news/2024/03/river.html"]


def test_fetch_redirect_loop_stops(server) -> None:
    with pytest.raises(FetchError, match="redirects"):
        run(fetch(url(server, "/loop"), allow_private=True, limits=Limits(max_redirects=3)))


def test_fetch_byte_cap(server) -> None:
    with pytest.raises(FetchError, match="too large"):
        run(fetch(url(server, "/big"), allow_private=True, limits=Limits(max_bytes=100_000)))
    assert len(run(fetch(url(server, "/big"), allow_private=True, limits=Limits(max_bytes=300_000)))) > 200_000


def test_fetch_decodes_meta_charset(server) -> None:
    assert "长春市委书记凌晨2点开会" in run(fetch(url(server, "/gbk"), allow_private=True))


def test_fetch_refuses_non_html_and_errors(server) -> None:
    with pytest.raises(FetchError, match="not an HTML page"):
        run(fetch(url(server, "/json"), allow_private=True))
    with pytest.raises(FetchError, match="404"):
        run(fetch(url(server, "/missing"), allow_private=True))


def test_redirect_from_public_host_to_private_is_refused() -> None:
    """Hop 1 (a public name) is allowed; its redirect to the metadata address is refused unsent."""
    requests: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return httpx.Response(302, headers={"Location": "http://169.254.169.254/latest/meta-data/"})

    async def go():
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
            return await fetch_article(client, "http://news.example/story", resolve=lambda h, p: ["93.184.216.34"])

    with pytest.raises(BlockedAddress, match="169.254.169.254"):
        run(go())
    assert len(requests) == 1
    # the request went to the address that was checked, with the original Host
    assert requests[0].url.host == "93.184.216.34"
    assert requests[0].headers["host"] == "news.example"


def test_redirect_to_name_resolving_privately_is_refused() -> None:
    answers = {"news.example": ["93.184.216.34"], "internal.example": ["10.0.0.5"]}
    requests: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return httpx.Response(301, headers={"Location": "https://internal.example/admin"})

    async def go():
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
            return await fetch_article(client, "https://news.example/story", resolve=lambda h, p: answers[h])

    with pytest.raises(BlockedAddress, match="internal.example"):
        run(go())
    assert [r.headers["host"] for r in requests] == ["news.example"]
    assert requests[0].url.host == "news.example"  # https is not pinned: TLS verifies the name


def test_redirect_to_local_server_refused_real_sockets(server) -> None:
    """The same with a real server: a public-looking first hop (mocked) redirecting to 127.0.0.1."""
    local = url(server, "/news/2024/03/river.html")
    before = len(server.hits)

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(302, headers={"Location": local})

    async def go():
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
            return await fetch_article(client, "http://news.example/x", resolve=lambda h, p: ["93.184.216.34"])

    with pytest.raises(BlockedAddress):
        run(go())
    assert len(server.hits) == before


def test_check_public_url_from_async_code() -> None:
    async def go():
        return await asyncio.to_thread(check_public_url, "http://8.8.8.8/")
    assert run(go()) == ["8.8.8.8"]


# --- decoding ------------------------------------------------------------------------------------------

def test_decode_html_charsets() -> None:
    text = "<p>长春市委书记</p>"
    assert decode_html(text.encode("gbk"), "text/html; charset=GBK") == text
    assert decode_html(text.encode("gb18030"), "text/html") == text  # not UTF-8: falls to GB18030
    assert decode_html(text.encode("utf-8"), "text/html; charset=gb2312") == text  # mislabelled
    assert decode_html(b"\xef\xbb\xbf" + text.encode("utf-8"), "text/html; charset=gbk") == text
    meta = '<meta charset="big5"><p>長春</p>'
    assert decode_html(meta.encode("big5"), None) == meta
    assert decode_html("café".encode("cp1252"), "text/html; charset=iso-8859-1") == "café"
    assert decode_html(b"caf\xe9 \x81", None).startswith("caf")
