"""clean_html: untrusted feed HTML in, safe and tidy HTML out (SPEC §5).

Three passes, each cheap:

0. Text: invalid XML characters dropped, mojibake repaired (clean_text); the per-site
   drop_patterns cut out of the raw text; pathologically deep nesting flattened (guard_depth).
1. DOM pass (selectolax/lexbor, on the raw fragment): per-site remove/unwrap selectors (which
   still see class and id), junk elements removed with their content, lazy images made real, URLs
   resolved against the base, tracking parameters stripped from links, tracking pixels and
   non-allow-listed iframes removed, fixed attributes set (img referrerpolicy/loading, iframe
   sandbox, media controls). Skipped when the fragment has none of the tags it acts on.
2. nh3 (ammonia) with an allow-list of tags and attributes: the security boundary. Whatever the DOM
   pass did or missed, only allow-listed tags/attributes and safe URL schemes come out of it.
3. Text pass on nh3's canonical output (where a regex is exact, since every attribute value is
   double-quoted with '<', '>' and '"' escaped): elements left with neither text nor media,
   whitespace-only lines (Hexo's Markdown ends an HTML block at a blank line; inside <pre> the
   newline is kept as ``&#10;`` instead), CR characters.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache
from typing import TypedDict

import nh3
from selectolax.lexbor import LexborHTMLParser, LexborNode

from .rules import CompiledRule, RuleSet, default_rules
from .text import xml_safe_clean_and_utf8
from .urls import (
    allowed_iframe_src,
    format_srcset,
    is_pixel_url,
    is_placeholder_src,
    is_safe_url,
    lists,
    normalize_url_text,
    parse_srcset,
    resolve,
    strip_tracking,
)

__all__ = ["clean_html", "clean_content", "apply_rules", "guard_depth", "ALLOWED_TAGS", "ALLOWED_ATTRIBUTES"]

ALLOWED_TAGS = frozenset({
    "a", "abbr", "article", "aside", "audio", "b", "bdi", "bdo", "blockquote", "br", "caption", "cite",
    "code", "col", "colgroup", "dd", "del", "details", "dfn", "div", "dl", "dt", "em", "figcaption",
    "figure", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "iframe", "img", "ins", "kbd", "li", "mark",
    "ol", "p", "picture", "pre", "q", "rp", "rt", "ruby", "s", "samp", "section", "small", "source",
    "span", "strike", "strong", "sub", "summary", "sup", "table", "tbody", "td", "tfoot", "th", "thead",
    "time", "tr", "track", "u", "ul", "var", "video", "wbr",
})

ALLOWED_ATTRIBUTES: dict[str, set[str]] = {
    "*": {"lang", "dir", "title"},
    "a": {"href", "hreflang"},
    "img": {"src", "srcset", "sizes", "alt", "width", "height"},
    "source": {"src", "srcset", "sizes", "type", "media", "width", "height"},
    "video": {"src", "poster", "width", "height", "preload", "loop", "muted", "playsinline"},
    "audio": {"src", "preload", "loop", "muted"},
    "track": {"src", "kind", "srclang", "label", "default"},
    "iframe": {"src", "width", "height"},
    "td": {"colspan", "rowspan", "headers"},
    "th": {"colspan", "rowspan", "headers", "scope", "abbr"},
    "col": {"span"},
    "colgroup": {"span"},
    "ol": {"start", "reversed", "type"},
    "li": {"value"},
    "blockquote": {"cite"},
    "q": {"cite"},
    "del": {"cite", "datetime"},
    "ins": {"cite", "datetime"},
    "time": {"datetime"},
    "details": {"open"},
    "bdo": {"dir"},
}

# Removed together with everything inside them (nh3 would otherwise keep their text).
_DROP_WITH_CONTENT = frozenset({
    "script", "style", "noscript", "template", "textarea", "select", "button", "title", "xmp",
    "noembed", "noframes", "plaintext", "object", "embed", "applet", "svg", "math", "form", "head",
    "frameset", "frame", "dialog", "canvas", "map", "input", "base", "meta", "link", "param",
    "portal", "fencedframe", "slot",
})
# The same for nh3 (it refuses names that are also in `tags`, and void ones are moot).
_NH3_CLEAN_CONTENT = set(_DROP_WITH_CONTENT) - {"input", "base", "meta", "link", "param"}

# Attributes every element of a kind gets: set in the DOM pass, not by nh3's set_tag_attribute_values, whose
# order changes between calls (unchanged items must not rewrite their posts); nh3 lets exactly these through.
_SET_ATTRS: dict[str, dict[str, str]] = {
    "img": {"referrerpolicy": "no-referrer", "loading": "lazy"},
    "iframe": {"sandbox": "allow-scripts allow-same-origin allow-popups", "loading": "lazy",
               "allowfullscreen": ""},
    "video": {"controls": ""},
    "audio": {"controls": ""},
}
_SET_VALUES = {tag: {k: {v} for k, v in attrs.items()} for tag, attrs in _SET_ATTRS.items()}

_DIM = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(?:px)?\s*$", re.I)
_STYLE_DIM = re.compile(r"(?:^|;)\s*(width|height)\s*:\s*(\d+(?:\.\d+)?)px", re.I)
_URL_ATTRS = {"href", "src", "poster", "cite"}
_FILTERED = _URL_ATTRS | {"srcset", "width", "height"}
_IMAGE_TAGS = {"img", "source", "video", "audio", "track"}


def _dim(value: str | None) -> float | None:
    if not value:
        return None
    m = _DIM.match(value)
    return float(m.group(1)) if m else None


def _is_pixel_img(attrs: dict[str, str | None], src: str) -> bool:
    for key in ("width", "height"):
        d = _dim(attrs.get(key))
        if d is not None and d <= 2:
            return True
    style = attrs.get("style")
    if style:
        for _, v in _STYLE_DIM.findall(style):
            if float(v) <= 2:
                return True
    return is_pixel_url(src)


def _fix_srcset(value: str, base: str) -> str:
    items = []
    for url, desc in parse_srcset(value):
        url = resolve(url, base)
        if is_safe_url(url, image=True) and not is_placeholder_src(url):
            items.append((url, desc))
    return format_srcset(items)


# Tree construction costs O(depth) per tag, and no real article nests more than a few dozen levels: past
# _MAX_DEPTH, container tags are dropped (their text stays) before parsing. Figures: docs/cleaning.md.
_MAX_DEPTH = 256
_TAG = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9]*)[^>]*>")
_VOID = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param",
                   "source", "track", "wbr", "keygen", "image"})
# Tags kept when flattening: ones that cannot nest (the parser closes an open <a> or <p> first;
# raw-text elements hold no tags), so the flattened copy is shallow whatever the input was.
_KEEP_WHEN_FLATTENING = frozenset({"a", "img", "image", "br", "hr", "p", "source", "iframe", "script",
                                   "style", "noscript", "textarea", "title", "xmp", "noembed",
                                   "noframes", "plaintext"})


def guard_depth(html: str) -> str:
    """`html`, or a flattened copy when its tags nest deeper than _MAX_DEPTH (hostile input)."""
    if html.count("<") <= 2 * _MAX_DEPTH:
        return html
    depth = peak = 0
    for m in _TAG.finditer(html):
        if m.group(2).lower() in _VOID:
            continue
        if m.group(1):
            depth = max(0, depth - 1)
        else:
            depth += 1
            if depth > peak:
                peak = depth
                if peak > _MAX_DEPTH:
                    break
    if peak <= _MAX_DEPTH:
        return html

    def keep(m: re.Match[str]) -> str:
        return m.group(0) if m.group(2).lower() in _KEEP_WHEN_FLATTENING else ""

    return _TAG.sub(keep, html)


def _decompose_all(nodes: list[LexborNode]) -> None:
    # Reverse document order: a descendant always goes before its ancestor, so no node is touched
    # after an ancestor freed it.
    for node in reversed(nodes):
        node.decompose()


def _unwrap_all(nodes: list[LexborNode]) -> None:
    for node in reversed(nodes):
        node.unwrap()


def _img(img: LexborNode, base: str) -> None:
    L = lists()
    attrs = img.attributes
    src = attrs.get("src")
    if is_placeholder_src(src):
        lazy = next((v for a in L.lazy_src_attrs
                     if (v := attrs.get(a)) and v.strip() and not is_placeholder_src(v)), None)
        if lazy:
            src = lazy
        elif src and len(src) > 256 and normalize_url_text(src).lower().startswith("data:image/"):
            pass  # a real inline image, not a 1×1 placeholder
        else:
            src = None
    srcset = attrs.get("srcset")
    if not srcset or not srcset.strip() or is_placeholder_src(srcset):
        srcset = next((v for a in L.lazy_srcset_attrs if (v := attrs.get(a)) and v.strip()), srcset)
    srcset = _fix_srcset(srcset, base) if srcset else ""
    if srcset:
        img.attrs["srcset"] = srcset
    elif "srcset" in attrs:
        del img.attrs["srcset"]
    if src:
        src = resolve(src, base)
        if not is_safe_url(src, image=True):
            src = None
    if not src and srcset:
        src = parse_srcset(srcset)[0][0]
    if not src or _is_pixel_img(attrs, src):
        img.decompose()
        return
    a = img.attrs
    if src != attrs.get("src"):
        a["src"] = src
    a["referrerpolicy"] = "no-referrer"
    a["loading"] = "lazy"


def _source(node: LexborNode, base: str) -> None:
    L = lists()
    attrs = node.attributes
    src = attrs.get("src")
    if is_placeholder_src(src):
        src = next((v for a in L.lazy_src_attrs if (v := attrs.get(a))), None)
    if src:
        node.attrs["src"] = resolve(src, base)
    srcset = attrs.get("srcset")
    if not srcset or normalize_url_text(srcset).lower().startswith("data:"):
        srcset = next((v for a in L.lazy_srcset_attrs if (v := attrs.get(a))), None) or srcset
    if srcset:
        fixed = _fix_srcset(srcset, base)
        if fixed:
            node.attrs["srcset"] = fixed
        elif "srcset" in attrs:
            del node.attrs["srcset"]


def _iframe(frame: LexborNode, base: str) -> None:
    attrs = frame.attributes
    raw = attrs.get("src") or attrs.get("data-src") or ""
    src = allowed_iframe_src(resolve(raw, base)) if raw else None
    if not src:
        frame.decompose()
        return
    for child in list(frame.iter(include_text=True)):
        child.decompose()  # raw text to a parser, markup to the next one: never keep it
    a = frame.attrs
    a["src"] = src
    for k, v in _SET_ATTRS["iframe"].items():
        a[k] = v


def _link(a: LexborNode, base: str) -> None:
    raw = a.attributes.get("href") or ""
    href = resolve(raw, base)
    # resolve's output is normalised: one starting with http(s):// is what is_safe_url accepts.
    if not href or not (href.startswith(("https://", "http://")) or is_safe_url(href)):
        a.unwrap()  # a link to nowhere (or to javascript:) is just its text
        return
    href = strip_tracking(href)
    if href != raw:
        a.attrs["href"] = href


def _media(node: LexborNode, base: str) -> None:
    attrs = node.attributes
    if base:
        for key in ("src", "poster", "cite"):
            v = attrs.get(key)
            if v:
                node.attrs[key] = resolve(v, base)
    extra = _SET_ATTRS.get(node.tag or "")
    if extra:
        for k, v in extra.items():
            node.attrs[k] = v


_HANDLERS: dict[str, Callable[[LexborNode, str], None]] = {
    "img": _img, "source": _source, "track": _source, "iframe": _iframe, "a": _link,
    "video": _media, "audio": _media, "blockquote": _media, "q": _media, "del": _media, "ins": _media,
}
_INTERESTING = frozenset(_DROP_WITH_CONTENT | set(_HANDLERS))
_HANDLER_ORDER = tuple(sorted(_HANDLERS, key=lambda name: name == "a"))  # links last (see _dom_pass)
# Tag names as the HTML tokenizer sees them ('<' + ASCII letter); a superset of the elements the
# parser builds, except that it turns <image> into <img>.
_TAG_NAME = re.compile(r"<([a-zA-Z][a-zA-Z0-9]*)")


def _selector_for(html: str) -> str:
    """One CSS query for the elements of this fragment that the DOM pass must touch ('' = none)."""
    return _selector(_names(_TAG_NAME.findall(html)) & _INTERESTING)


def _names(tag_names: list[str]) -> frozenset[str]:
    """The lower-cased names of _TAG_NAME.findall(html): a superset of the names of the elements lexbor and
    html5ever build from html (with img for image), as neither makes an element of a kind the text lacks,
    but for implied ones (tbody, p, br) that no step here looks for."""
    names = {n.lower() for n in set(tag_names)}  # a few names, each many times
    if "image" in names:
        names.add("img")
    return frozenset(names)


@lru_cache(maxsize=4096)
def _selector(wanted: frozenset[str]) -> str:
    # A pure function of the tag set, memoised: feeds repeat a handful of tag mixes.
    return ", ".join(sorted(wanted))


def apply_rules(html: str, base_url: str = "", rules: RuleSet | None = None) -> str:
    """Only the per-site rules for base_url's host (drop_patterns, remove, unwrap) on a whole page.

    For pages that go to an extractor first (full text): the selectors need the class and id
    attributes that extraction and sanitizing throw away.
    """
    rule = (rules or default_rules()).for_url(base_url)
    if not rule or not html:
        return html
    for pattern in rule.drop:
        html = pattern.sub("", html)
    if not (rule.remove or rule.unwrap):
        return html
    tree = LexborHTMLParser(guard_depth(html))
    if rule.remove:
        _decompose_all(tree.css(rule.remove))
    if rule.unwrap:
        _unwrap_all(tree.css(rule.unwrap))
    return tree.html or ""


def _dom_pass(html: str, base: str, rule: CompiledRule, utf8: bytes | None = None,
              present: frozenset[str] | None = None) -> str:
    """The DOM pass (module docstring, 1); `utf8`: html's UTF-8 when the caller has it (lexbor parses bytes);
    `present`: _names(_TAG_NAME.findall(html)) when the caller has it."""
    names = (_names(_TAG_NAME.findall(html)) if present is None else present) & _INTERESTING
    if not names and not (rule.remove or rule.unwrap):
        return html  # plain text and inline markup: nothing for the DOM pass, nh3 does the rest
    tree = LexborHTMLParser(html if utf8 is None else utf8, is_fragment=True)
    if rule.remove:
        _decompose_all(tree.css(rule.remove))
    if rule.unwrap:
        _unwrap_all(tree.css(rule.unwrap))
    if not names:
        return tree.html or ""
    if any(tree.tags(name) for name in names & _DROP_WITH_CONTENT):
        # Reverse document order: a node is handled before its ancestors, never after one freed it.
        for node in reversed(tree.css(_selector(names))):
            tag = node.tag
            if tag in _DROP_WITH_CONTENT:
                node.decompose()
            else:
                _HANDLERS.get(tag or "", _media)(node, base)
    else:
        # No element to drop with its content (none was there, or a site rule removed it): no handler frees
        # another element (an <img> or <iframe> goes alone, an <a> leaves its children), so each name's elements
        # are handled in turn, found by name (a CSS query costs a few times more). Links last: an <a> left empty
        # stays (unwrap moves children only), so it must see what the handlers left inside it, as it did when
        # every node came before its ancestors.
        for name in _HANDLER_ORDER:
            if name in names:
                handle = _HANDLERS[name]
                for node in reversed(tree.tags(name)):
                    handle(node, base)
    return tree.html or ""


def _attribute_filter(tag: str, attr: str, value: str) -> str | None:
    """Last word on URL-bearing attributes inside nh3 (runs after its own scheme check)."""
    if attr not in _FILTERED:
        return value
    if attr in _URL_ATTRS:
        if tag != "iframe" and value.startswith(("https://", "http://")):
            return value
        if tag == "iframe":
            return allowed_iframe_src(value)
        return value if is_safe_url(value, image=tag in _IMAGE_TAGS and attr != "href") else None
    if attr == "srcset":
        items = [(u, d) for u, d in parse_srcset(value) if is_safe_url(u, image=True)]
        return format_srcset(items) or None
    if attr in ("width", "height"):
        d = _dim(value)
        return None if d is None else value.strip().lower().removesuffix("px").strip()
    return value


class _Nh3Options(TypedDict):
    """The keyword arguments given to nh3.Cleaner / nh3.clean."""

    tags: set[str]
    clean_content_tags: set[str]
    attributes: dict[str, set[str]]
    attribute_filter: Callable[[str, str, str], str | None]
    strip_comments: bool
    link_rel: str
    tag_attribute_values: dict[str, dict[str, set[str]]]
    url_schemes: set[str]


_NH3_OPTIONS = _Nh3Options(
    tags=set(ALLOWED_TAGS),
    clean_content_tags=_NH3_CLEAN_CONTENT,
    attributes={k: set(v) for k, v in ALLOWED_ATTRIBUTES.items()},
    attribute_filter=_attribute_filter,
    strip_comments=True,
    link_rel="noopener noreferrer",
    tag_attribute_values=_SET_VALUES,
    url_schemes={"http", "https", "mailto", "tel", "data"},
)
# nh3.Cleaner (nh3 ≥ 0.3) builds the ammonia configuration once; nh3.clean rebuilds it per call.
_CLEANER = nh3.Cleaner(**_NH3_OPTIONS) if hasattr(nh3, "Cleaner") else None


def _sanitize(html: str) -> str:
    if _CLEANER is not None:
        return _CLEANER.clean(html)
    return nh3.clean(html, **_NH3_OPTIONS)


# Elements left with neither text nor media (not li/td/th: they carry structure). A regex is exact on nh3's
# output: every attribute value is double-quoted with '<', '>' and '"' escaped, so `[^>]*` stays in its tag.
_EMPTY_TAG = re.compile(
    r"<(p|div|span|section|article|aside|figure|figcaption|blockquote|b|strong|i|em|u|s|small|mark|"
    r"h[1-6]|sub|sup|strike|a|q|abbr|cite|del|ins|time)(?:\s[^>]*)?>(?:\s|&nbsp;|<br>)*</\1>"
)
# What every _EMPTY_TAG match holds: a start tag, then only filler up to an end tag. Possessive: no filler
# item starts with "</", so giving one back never lets the match go on, and the engine need not try (a
# paragraph's leading ideographic spaces made it, at each <p>): 28% fewer instructions.
_MAYBE_EMPTY = re.compile(r"<[a-z][^>]*+>(?:\s|&nbsp;|<br>)*+</")
_IFRAME_BODY = re.compile(r"(<iframe\b[^>]*>).*?</iframe>", re.S)
_PRE = re.compile(r"(<pre\b[^>]*>.*?</pre>)", re.S)
_BLANK_LINE = re.compile(r"\n[ \t\f\v]*(?=\n)")
_PRE_BLANK = re.compile(r"\n(?=[ \t\f\v]*\n)")


def _no_blank_lines(html: str, may_hold_pre: bool = True) -> str:
    """No whitespace-only line anywhere (a blank line ends Hexo's HTML block)."""
    if "\n" not in html:
        return html
    if not may_hold_pre or "<pre" not in html:
        return _BLANK_LINE.sub("", html)
    parts = _PRE.split(html)
    for i, part in enumerate(parts):
        parts[i] = _PRE_BLANK.sub("&#10;", part) if i % 2 else _BLANK_LINE.sub("", part)
    return "".join(parts)


_SET_CHECK = {
    tag: (re.compile(rf"<{tag}\b[^>]*>"), [(re.compile(rf'\s{k}="{re.escape(v)}"'), f' {k}="{v}"')
                                         for k, v in values.items()])
    for tag, values in _SET_ATTRS.items()
}


def _ensure_set_attrs(html: str) -> str:
    """Add any _SET_ATTRS attribute missing from nh3's output (never expected; cheap to make sure)."""
    for tag, (tag_re, checks) in _SET_CHECK.items():
        if f"<{tag}" not in html:
            continue

        def fix(m: re.Match[str], checks: list[tuple[re.Pattern[str], str]] = checks) -> str:
            t = m.group(0)
            missing = "".join(text for rx, text in checks if not rx.search(t))
            return t[:-1] + missing + ">" if missing else t

        html = tag_re.sub(fix, html)
    return html


def _tidy(html: str, present: frozenset[str] | None = None) -> str:
    """The text pass (module docstring, 3); `present`: _names of the text the DOM pass had, when the caller has
    them (an iframe or pre comes out of nh3 only if its name went in: no scan of the text for one then)."""
    if html.count("<img") != html.count(' referrerpolicy="no-referrer"'):
        html = _ensure_set_attrs(html)
    if (present is None or "iframe" in present) and "<iframe" in html:
        html = _IFRAME_BODY.sub(r"\1</iframe>", html)
    if _MAYBE_EMPTY.search(html):  # a cheap scan first: most items have no empty element
        for _ in range(8):
            new = _EMPTY_TAG.sub("", html)
            if new == html:
                break
            html = new
    if "\r" in html:
        html = html.replace("\r", "&#13;")
    if "<!--" in html:  # cannot happen after nh3 (comments stripped, '<' escaped); belt and braces
        html = html.replace("<!--", "&lt;!--")
    return _no_blank_lines(html, present is None or "pre" in present).strip()


def clean_html(html: str, base_url: str = "", rules: RuleSet | None = None) -> str:
    """Sanitize one item's HTML for publishing (see the module docstring and docs/cleaning.md).

    `base_url` resolves relative URLs and selects the per-site rules (by host); `rules` defaults to
    the shipped rules (pass ``load_rules(cfg.rules)`` to include the user's).
    """
    if not html or not html.strip():
        return ""
    _, text, utf8 = xml_safe_clean_and_utf8(html)
    return _clean_markup(text, base_url, rules, utf8)


def clean_content(content: str, base_url: str = "", rules: RuleSet | None = None) -> tuple[str, str]:
    """(content less the characters XML forbids, clean_html of that): an item's two forms, with one scan
    of its text where the two calls would make two."""
    safe, text, utf8 = xml_safe_clean_and_utf8(content)
    if not safe or not safe.strip():
        return safe, ""
    return safe, _clean_markup(text, base_url, rules, utf8)


def _clean_markup(text: str, base_url: str, rules: RuleSet | None, utf8: bytes | None) -> str:
    # utf8: text's UTF-8 from the scan for characters to drop or repair, None when that scan had none to give.
    rule = (rules or default_rules()).for_url(base_url)
    html = text
    for pattern in rule.drop:
        html = pattern.sub("", html)
    # Each start tag is at one of these names' '<': with no more than _MAX_DEPTH of them, nothing nests deeper
    # (guard_depth would return html as it is, after counting every '<' to find out).
    tag_names = _TAG_NAME.findall(html)
    if len(tag_names) > _MAX_DEPTH:
        flat = guard_depth(html)
        if flat is not html:
            html, tag_names = flat, _TAG_NAME.findall(flat)
    present = _names(tag_names)
    # The bytes are the parser's input only while neither the patterns nor the depth guard changed the text.
    html = _dom_pass(html, base_url, rule, utf8 if html is text else None, present)
    return _tidy(_sanitize(html), present)
