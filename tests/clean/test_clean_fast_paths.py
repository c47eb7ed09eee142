"""The cleaner's fast paths give what the general code they short-cut gives (docs/benchmarks.md, Ingest).

Each reference below is the code the fast path replaced, kept here verbatim as the specification.
"""
from __future__ import annotations

import re
from html import unescape
from urllib.parse import urlsplit, urlunsplit

from hypothesis import given, settings
from hypothesis import strategies as st
from xss_vectors import VECTORS

from tidings.clean import clean_content, clean_html, load_rules, strip_invalid_xml
from tidings.clean.images import _canonical_images, _named_qr_or_icon, _words
from tidings.clean.rules import host_of
from tidings.clean.sanitize import _EMPTY_TAG, _MAYBE_EMPTY, _sanitize
from tidings.clean.urls import _is_tracking_param, lists, split_http, strip_tracking

URLS = [
    "https://finance.sina.com.cn/r/1.shtml?utm_source=rss&spm=1",
    "https://finance.sina.com.cn/r/1.shtml?utm_source=rss&spm=1#top",
    "https://a.example/p?utm_source=x#",
    "https://a.example/p?utm_source=x&#frag",
    "https://a.example?utm_medium=1",
    "https://a.example#x?utm_source=1",
    "https://a.example/p?keep=1&&utm_term=2&id=3",
    "https://a.example/p?",
    "https://a.example/p?%75tm_source=1&a+b=2&From=x",
    "http://user:pw@A.Example:8080/p?fbclid=1",
    "HTTPS://A.example/p?utm_source=1",
    "http:////x?utm_source=1",
    "https://[::1]/p?utm_source=1",
    "https://[::1/p?utm_source=1",
    "https://a.example/p\t?utm_source=1",
    "https://a.example/p?utm_source=1\n",
    " https://a.example/p?utm_source=1",
    "https://exämple.com/p?utm_source=1",
    "https://a%41.example/p?utm_source=1",
    "https://a.example.:443/p?spm=a.b.c",
    "//a.example/p?utm_source=1",
    "/relative?utm_source=1",
    "mailto:x@example.com?subject=1&utm_source=2",
    "https://a.example/p?q=1#f?utm_source=2",
    "https://a.example/p?utm_source",
    "https://a.example/p?=x&utm_source=",
    "https:?x",
    "https://",
    "https://?utm_source=1",
]

url_text = st.text(alphabet=st.sampled_from(list("ahtps:/.?#&=%+[]@_-x1 \t\nä")), max_size=40)
urls = st.one_of(st.sampled_from(URLS), url_text, st.builds(lambda a, b: a + b, st.sampled_from(URLS), url_text))


def reference_strip_tracking(url: str) -> str:
    if "?" not in url:
        return url
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if not parts.query:
        return url
    L = lists()
    kept = [p for p in parts.query.split("&") if p and not _is_tracking_param(p.split("=", 1)[0], L)]
    query = "&".join(kept)
    if query == parts.query:
        return url
    return urlunsplit(parts._replace(query=query))


def reference_host_of(url: str) -> str:
    if not url:
        return ""
    try:
        host = urlsplit(url.strip()).hostname or ""
    except ValueError:
        return ""
    return host.rstrip(".").lower()


def reference_canonical_images(html: str) -> list[dict[str, str]]:
    return [{k: unescape(v) for k, v in re.findall(r'([^\s="]+)="([^"]*)"', m.group(1))}
            for m in re.finditer(r"<img\b([^>]*)>", html)]


def reference_split_http(url: str) -> tuple[str, str, str, str] | None:
    # split_http by string methods, as it was before its regex: the regex declines and splits the same URLs.
    if not url.startswith(("https://", "http://")) or "\t" in url or "\r" in url or "\n" in url:
        return None
    start = 8 if url[4] == "s" else 7
    end = len(url)
    for c in "/?#":
        i = url.find(c, start, end)
        if i >= 0:
            end = i
    netloc = url[start:end]
    if not netloc or not netloc.isascii() or "[" in netloc or "]" in netloc:
        return None
    rest, _, fragment = url[end:].partition("#")
    path, _, query = rest.partition("?")
    return netloc, url[:end] + path, query, fragment


def _check_split(url: str) -> None:
    fast = split_http(url)
    assert fast == reference_split_http(url), url
    if fast is None:
        return
    p = urlsplit(url)
    assert fast == (p.netloc, urlunsplit((p.scheme, p.netloc, p.path, "", "")), p.query, p.fragment)


def test_split_strip_and_host_agree_with_urlsplit_on_known_shapes():
    for url in URLS:
        _check_split(url)
        assert strip_tracking(url) == reference_strip_tracking(url), url
        assert host_of(url) == reference_host_of(url), url
    assert split_http(URLS[0]) is not None  # the fast path is taken for the usual shape


@settings(max_examples=2000, deadline=None)
@given(urls)
def test_split_strip_and_host_agree_with_urlsplit(url):
    _check_split(url)
    assert strip_tracking(url) == reference_strip_tracking(url)
    assert host_of(url) == reference_host_of(url)


FRAGMENTS = VECTORS + [
    "<p> </p><div><span>&nbsp;<br></span></div><p>x</p>",
    "<p>a</p>\n<p>\n</p><b></b>",
    "<img src=https://a.example/1.jpg alt='a &amp; b'><IMG SRC=https://a.example/2.jpg>",
    "<p>text only, no tags at all</p>",
    "\x00\x0b<p>ä¸­æ–‡</p>\ud800\ufffe",
    "   ",
    "\x0c",
    "",
]


def test_empty_element_precheck_never_skips_a_match():
    for raw in FRAGMENTS:
        out = _sanitize(strip_invalid_xml(raw))
        if _EMPTY_TAG.search(out):
            assert _MAYBE_EMPTY.search(out), raw


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(["<p>", "</p>", "<b>", "</b>", "<a href=\"x\">", "</a>", " ", "&nbsp;", "<br>",
                                 "\n", "x", "<div class=\"c\">", "</div>", ">", "<", "\u3000", "\t", "\xa0",
                                 "<br/>", "&nbsp", "<h1 id=\"a>\">", "</h1>"]), max_size=20))
def test_empty_element_precheck_on_token_soup(tokens):
    html = "".join(tokens)
    if _EMPTY_TAG.search(html):
        assert _MAYBE_EMPTY.search(html)
    assert bool(_MAYBE_EMPTY.search(html)) == bool(REFERENCE_MAYBE_EMPTY.search(html))


# The pre-check as it was before its repeats became possessive: the same strings pass it.
REFERENCE_MAYBE_EMPTY = re.compile(r"<[a-z][^>]*>(?:\s|&nbsp;|<br>)*</")


@settings(max_examples=1000, deadline=None)
@given(st.from_regex(REFERENCE_MAYBE_EMPTY), st.text(max_size=8), st.text(max_size=8))
def test_empty_element_precheck_possessive_passes_what_the_greedy_one_passed(match, before, after):
    for html in (before + match + after, before + after):
        assert bool(_MAYBE_EMPTY.search(html)) == bool(REFERENCE_MAYBE_EMPTY.search(html)), html


@settings(max_examples=1000, deadline=None)
@given(st.from_regex(_EMPTY_TAG), st.text(max_size=8), st.text(max_size=8))
def test_empty_element_precheck_holds_every_match(match, before, after):
    # Every string the regex matches, whatever surrounds it, passes the pre-check.
    assert _MAYBE_EMPTY.search(before + match + after), match


def test_clean_content_is_strip_then_clean_html():
    base = "https://finance.sina.com.cn/a/b.shtml"
    for raw in FRAGMENTS:
        safe = strip_invalid_xml(raw)
        assert clean_content(raw, base) == (safe, clean_html(safe, base)), raw


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_clean_content_on_any_text(raw):
    safe = strip_invalid_xml(raw)
    assert clean_content(raw) == (safe, clean_html(safe))


def test_canonical_images_by_find_equal_finditer():
    for raw in FRAGMENTS:
        html = clean_html(raw, "https://a.example/")
        for text in (html, html.replace("<img", "<imgx"), "<img" + html, html + "<img src=\"x\""):
            assert [a for a, _ in _canonical_images(text)] == reference_canonical_images(text)


def test_named_qr_or_icon_is_the_inline_test_it_replaced():
    L = lists()
    values = [None, "", " ", "图", "qrCode", "site-logo", "二维码", "Photo of the QR", "emojiIcon", "avatar_1", "x.ico"]
    for alt in values:
        for cls in values[:6]:
            for title in (None, "erweima"):
                attrs = {"alt": alt, "class": cls, "id": None, "title": title}
                words = _words(attrs.get(k) for k in ("alt", "class", "id", "title"))
                expected = bool(words and (L.qr_re.search(words) or L.icon_re.search(words)))
                text = " ".join(v for k in ("alt", "class", "id", "title") if (v := attrs.get(k)))
                assert _named_qr_or_icon(text) == expected, attrs


def test_long_image_sources_are_not_kept_in_the_url_caches():
    """Inline data: images of many KB are asked about too; the memos keep short URLs only."""
    from tidings.clean import urls

    big = "data:image/png;base64," + "iVBORw0KGgo" * 2000
    before = urls._is_placeholder_src.memo.cache_info().currsize, urls.is_pixel_url.memo.cache_info().currsize
    assert urls.is_placeholder_src(big) and not urls.is_pixel_url(big)
    after = urls._is_placeholder_src.memo.cache_info().currsize, urls.is_pixel_url.memo.cache_info().currsize
    assert after == before
    assert urls.is_pixel_url("https://pixel.wp.com/g.gif?x=1") == urls.is_pixel_url.check("https://pixel.wp.com/g.gif?x=1")


def test_selector_for_names_each_interesting_tag_once():
    from tidings.clean.sanitize import _INTERESTING, _selector_for

    html = "<P>a</p><IMG src=x><img src=y><Image src=z><a href=1><A HREF=2><script>x</script><b>"
    wanted = {"img", "a", "script"} & _INTERESTING
    assert _selector_for(html) == ", ".join(sorted(wanted))


def reference_link(a, base: str) -> None:
    from tidings.clean.urls import is_safe_url, resolve

    href = resolve(a.attributes.get("href") or "", base)
    if not href or not is_safe_url(href):
        a.unwrap()
        return
    a.attrs["href"] = strip_tracking(href)


@settings(max_examples=300, deadline=None)
@given(urls, st.sampled_from(["", "https://a.example/x/", "http://b.example", "ftp://c.example/"]))
def test_link_handler_is_the_reference(url, base):
    from html import escape

    from selectolax.lexbor import LexborHTMLParser

    from tidings.clean.sanitize import _link

    html = f'<p>a <a href="{escape(url)}" title="t">link</a> b</p>'
    fast, slow = LexborHTMLParser(html, is_fragment=True), LexborHTMLParser(html, is_fragment=True)
    _link(fast.css_first("a"), base)
    reference_link(slow.css_first("a"), base)
    assert fast.html == slow.html


# --- text._plain_utf8: what xml_safe_and_clean looks for, without the regex ---------------------------------------

SUSPECT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x80-\xff\ud800-\udfff\ufffe\uffff]")  # the regex it replaced
EDGES = ["\x00", "\x08", "\t", "\n", "\x0b", "\x0c", "\r", "\x0e", "\x1f", " ", "a", "<", "\x7f", "\x80", "\x9f",
         "\xa0", "\xe4", "\xff", "\u0100", "\u3000", "中", "\ud7ff", "\ud800", "\udbff", "\udc00", "\udfff",
         "\ue000", "\ufffd", "\ufffe", "\uffff", "\U00010000", "\U0001f600", "\U0010ffff"]


def _check_plain_utf8(s: str) -> None:
    from tidings.clean.text import _plain_utf8

    utf8 = _plain_utf8(s)
    assert (utf8 is None) is (SUSPECT.search(s) is not None), repr(s)
    if utf8 is not None:
        assert utf8 == s.encode("utf-8"), repr(s)


def test_plain_utf8_is_the_regex_for_every_code_point():
    for cp in range(0x110000):
        c = chr(cp)
        _check_plain_utf8(c)
        _check_plain_utf8("中文<p>" + c + "</p>")
        _check_plain_utf8("ascii " + c)


@settings(max_examples=3000, deadline=None)
@given(st.text(alphabet=st.sampled_from(EDGES), max_size=40))
def test_plain_utf8_is_the_regex(s):
    _check_plain_utf8(s)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(["<p>", "</p>", "<img src=\"/a.jpg\" data-src=\"/b.jpg\">", "<a href=\"/x?utm_source=1\">",
                                 "</a>", "<div class=\"appendQr_wrap\">", "</div>", "<style>", "中文", "\u3000", "&amp;",
                                 "&#x4e2d;", "\xa0", "<script>x</script>", "<iframe src=\"//a\">", "é", "\U0001f600",
                                 "<svg><p>", "<table><td>", "\r\n", "\x00"]), max_size=25))
def test_dom_pass_on_utf8_is_the_dom_pass_on_text(tokens):
    # lexbor given the text's UTF-8 (what clean_content has from its scan) builds what it builds from the text.
    from tidings.clean.sanitize import _dom_pass

    html = "".join(tokens)
    base = "https://finance.sina.com.cn/a/b.shtml"
    rule = load_rules().for_url(base)
    assert _dom_pass(html, base, rule, html.encode("utf-8")) == _dom_pass(html, base, rule)


ORIGIN_PARTS = ["https://", "http://", "HTTPS://", " https://", "a", "A", "b.example", "example", ".", ":", "80",
                "@", "%25", "[", "]", "/", "?", "#", "\t", "\n", "ä", "x_y", "-", "\\", ""]
url_tails = st.text(alphabet=st.sampled_from(list("/?#@:%.\t\n\r aAb\\ä")), max_size=12)


@settings(max_examples=2000, deadline=None)
@given(st.lists(st.tuples(st.lists(st.sampled_from(ORIGIN_PARTS), max_size=6), url_tails), min_size=1, max_size=8))
def test_rule_for_url_is_rule_for_its_host(pieces):
    # One RuleSet for the whole list, so later URLs meet origins the earlier ones memoised.
    rules = load_rules({"example": {"remove": [".r1"]}, "b.example": {"remove": [".r2"]},
                        "a.b.example": {"remove": [".r3"]}})
    for parts, tail in pieces:
        url = "".join(parts) + tail
        assert rules.for_url(url) == rules.for_host(host_of(url)), url
        assert rules.for_url(url) == rules.for_host(host_of(url)), url  # memoised now, if ever


def test_rule_for_url_memoises_plain_origins_only():
    rules = load_rules({"example.com": {"remove": [".r1"]}})
    assert rules.for_url("https://news.Example.com:8443/a?b").remove == ".r1"
    assert rules.for_url("https://news.example.com:8443/other").remove == ".r1"
    assert rules.for_url("https://evil.net@example.com/a").remove == ".r1"
    assert rules.for_url("https://example.com@evil.net/a").remove is None
    assert list(rules._by_origin) == ["https://news.Example.com:8443", "https://news.example.com:8443"]


def test_clean_parses_the_text_the_patterns_and_depth_guard_left():
    # The scan's UTF-8 is of the text before the drop patterns and the depth guard: once they change the text,
    # the parser must read what they left (the reference: the DOM pass on that text).
    from tidings.clean.sanitize import _dom_pass, _sanitize, _tidy, guard_depth

    base = "https://example.com/a"
    rules = load_rules({"example.com": {"drop_patterns": ["DROP ME"], "remove": [".gone"]}})
    rule = rules.for_url(base)
    deep = "<div>" * 300 + "<p>deep</p>" + "</div>" * 300
    for raw in ("<p>keep DROP ME</p><img src=\"/a.jpg\">", "<p>DROP ME</p><div class=\"gone\">x</div>", deep,
                deep + "DROP ME", "<p>中文 DROP ME 中文</p>"):
        reference = _tidy(_sanitize(_dom_pass(guard_depth(raw.replace("DROP ME", "")), base, rule)))
        assert clean_content(raw, base, rules)[1] == reference
        assert clean_html(raw, base, rules) == reference
        assert "DROP" not in reference
