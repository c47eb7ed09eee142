"""The DOM pass, the depth guard before it and the text pass after nh3 against the code their fast paths replaced
(kept below verbatim as the references), on generated token soup and nesting, and on every item of the feedparser
corpus and the seed feed."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from tidings.clean import load_rules
from tidings.clean.sanitize import (
    _DROP_WITH_CONTENT,
    _HANDLERS,
    _TAG_NAME,
    LexborHTMLParser,
    _clean_markup,
    _decompose_all,
    _dom_pass,
    _media,
    _names,
    _sanitize,
    _selector_for,
    _tidy,
    _unwrap_all,
    guard_depth,
)
from tidings.clean.text import xml_safe_clean_and_utf8

SHARED = Path(__file__).resolve().parents[3] / "shared"
BASE = "https://finance.sina.com.cn/a/b.shtml"


def reference_dom_pass(html, base, rule, utf8=None):
    """_dom_pass before the handlers' elements were found by name."""
    selector = _selector_for(html)
    if not selector and not (rule.remove or rule.unwrap):
        return html
    tree = LexborHTMLParser(html if utf8 is None else utf8, is_fragment=True)
    if rule.remove:
        _decompose_all(tree.css(rule.remove))
    if rule.unwrap:
        _unwrap_all(tree.css(rule.unwrap))
    if not selector:
        return tree.html or ""
    for node in reversed(tree.css(selector)):
        tag = node.tag
        if tag in _DROP_WITH_CONTENT:
            node.decompose()
        else:
            _HANDLERS.get(tag or "", _media)(node, base)
    return tree.html or ""


@lru_cache(maxsize=1)
def _rules():
    return load_rules({"example.com": {"remove": ["style", "script", ".gone", "svg"], "unwrap": ["span", "a.u"]}})


def _check_dom_pass(html: str) -> None:
    rules = _rules()
    for base in (BASE, "https://example.com/a/b", "https://other.example/x", ""):
        rule = rules.for_url(base)
        assert _dom_pass(html, base, rule) == reference_dom_pass(html, base, rule), (html, base)


TOKENS = [
    "<p>", "</p>", "<img src=\"/a.jpg\" data-src=\"/b.jpg\">", "<img src=\"https://hm.baidu.com/hm.gif\">",
    "<IMAGE src=\"x.png\">", "<img data-src=\"//c/d.png\" width=\"1\">", "<a href=\"/x?utm_source=1\">",
    "<a href=\"javascript:alert(1)\">", "<a class=\"u\" href=\"#top\">", "</a>", "<div class=\"appendQr_wrap\">",
    "<div class=\"gone\">", "</div>", "<span>", "</span>", "<style>", "</style>", "中文", "\u3000", "&amp;",
    "<script>x</script>", "<iframe src=\"//player.bilibili.com/p\">", "<iframe src=\"//evil.example/\">",
    "</iframe>", "<svg>", "</svg>", "<math>", "<noscript>", "</noscript>", "<template>", "<object>", "<form>",
    "<table><td>", "<video src=\"v.mp4\" poster=\"p.jpg\">", "<audio src=\"a.mp3\">", "<source srcset=\"a.jpg 1x\">",
    "<track src=\"t.vtt\">", "<blockquote cite=\"/c\">", "<q cite=\"q\">", "<del>", "<ins cite=\"/i\">",
    "<picture>", "<select><option>", "<textarea>", "<title>", "<p class=\"article-editor\">", "<br>", "\n",
]


@settings(max_examples=1500, deadline=None)
@given(st.lists(st.sampled_from(TOKENS), max_size=30))
@example(["<a href=\"javascript:alert(1)\">", "<img src=\"https://hm.baidu.com/hm.gif\">"])  # an <a> left empty
@example(["<svg>", "<iframe src=\"//evil.example/\">", "<script>x</script>", "<a href=\"/x\">"])
@example(["<a href=\"/x\">", "<noscript>", "<img src=\"/a.jpg\">", "</noscript>", "<style>", "</a>"])
def test_dom_pass_is_the_reference_on_token_soup(tokens):
    _check_dom_pass("".join(tokens))


def _corpus_contents() -> list[str]:
    from tidings.model import Source
    from tidings.parse import parse_feed

    files = sorted((SHARED / "corpus" / "feedparser").rglob("*")) + [SHARED / "conformance" / "seed" / "feed.xml"]
    source = Source(url="https://example.com/feed", category="x", source="x", channel="x")
    out = []
    for path in files:
        if not path.is_file():
            continue
        try:
            parsed = parse_feed(path.read_bytes(), source)
        except Exception:  # noqa: BLE001 - a file the parser refuses has no items to clean
            continue
        out.extend(xml_safe_clean_and_utf8(e.content)[1] for e in parsed.entries if e.content)
    return out


@pytest.mark.skipif(not (SHARED / "corpus" / "feedparser").is_dir(), reason="no shared corpus")
def test_dom_pass_is_the_reference_on_the_corpus():
    contents = _corpus_contents()
    assert len(contents) > 500
    rules = _rules()
    for html in contents:
        _check_dom_pass(guard_depth(html))
        for base in (BASE, "https://example.com/a/b", ""):
            assert _clean_markup(html, base, rules, None) == reference_clean_markup(html, base, rules, None), html


MARKUP = TOKENS + ["<pre>", "</pre>", "<PRE>", "<Pre class=\"x\">", "<IFRAME src=\"//player.bilibili.com/p\">",
                   "<listing>", "<xmp>", "<plaintext>", "\n \n", "\n\n", "\t", "&#13;", "\r", "<!-- c -->",
                   "&lt;pre&gt;", "&lt;iframe", "<p title=\"<iframe <pre\">", "<b>", "</b>", "&nbsp;", " "]


@settings(max_examples=1500, deadline=None)
@given(st.lists(st.sampled_from(MARKUP), max_size=30))
def test_clean_markup_is_the_reference_on_token_soup(tokens):
    html = "".join(tokens)
    rules = _rules()
    for base in (BASE, "https://example.com/a/b", ""):
        assert _clean_markup(html, base, rules, html.encode()) == reference_clean_markup(html, base, rules, None)


def reference_clean_markup(text, base_url, rules, utf8):
    """_clean_markup before the depth guard was skipped for text with at most _MAX_DEPTH start tags, and before
    the text pass was told the names in the text (_tidy without them looks for an iframe and a pre)."""
    rule = rules.for_url(base_url)
    html = text
    for pattern in rule.drop:
        html = pattern.sub("", html)
    html = guard_depth(html)
    html = reference_dom_pass(html, base_url, rule, utf8 if html is text else None)
    return _tidy(_sanitize(html))


NEST = ["<div>", "</div>", "<p>", "<br>", "<img src=\"/a.jpg\">", "<a href=\"/x\">", "</a>", "<b>", "x", "<", "</",
        "<span class=\"gone\">", "DROP"]


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=240, max_value=270), st.lists(st.sampled_from(NEST), max_size=40),
       st.integers(min_value=0, max_value=600), st.sampled_from(["<div>", "<b>", "<br>", "<", "</div>"]))
def test_clean_markup_is_the_reference_around_the_depth_guard(depth, tokens, repeat, filler):
    # Nesting and counts of '<' on either side of _MAX_DEPTH (256) and of guard_depth's 512 '<'.
    rules = load_rules({"example.com": {"drop_patterns": ["DROP"], "remove": [".gone"]}})
    inner = "".join(tokens)
    for html in ("<div>" * depth + inner + "</div>" * depth, filler * repeat + inner,
                 "<b>" * depth + "DROP" + inner, inner + "<p>x</p>" * (depth // 2)):
        for base in ("https://example.com/a", BASE):
            expected = reference_clean_markup(html, base, rules, html.encode())
            assert _clean_markup(html, base, rules, html.encode()) == expected
            assert _clean_markup(html, base, rules, None) == expected


@settings(max_examples=1500, deadline=None)
@given(st.lists(st.sampled_from(MARKUP + ["x</iframe>", "<iframe src=\"https://player.bilibili.com/p\">a<b>c"]),
                max_size=30))
def test_tidy_told_the_names_is_tidy_on_nh3_output(tokens):
    # nh3 straight on the soup (no DOM pass to empty the iframes first): told the names, _tidy skips its looks
    # for an iframe and a pre only where nh3 can have made none.
    html = "".join(tokens)
    out = _sanitize(html)
    assert _tidy(out, _names(_TAG_NAME.findall(html))) == _tidy(out)
