"""Import sources from RSSHub documentation pages (Markdown with `<Route>` components).

Three historic layouts are read, also mixed in one page:

* VuePress (2019–2023): a page per category (`# 金融`), a site heading (`## 新浪财经`), a route heading
  (`### 新浪财经－国內`) and a self-closing `<Route author="…" example="/sina/finance" path="/sina/finance/:type?"
  :paramsDesc="['…']" />`, or the same tag as a block `<Route …>…</Route>`. The oldest single-page docs put
  the category one level lower (`## 社交媒体`, `### bilibili`) and the route name in the tag (`<route name="番剧" …/>`).
* Docusaurus (2023–2024): the same headings with `{#anchor}` suffixes and an emoji before the category, and the
  block form with JSX attributes `<Route … paramsDesc={['…']}>…</Route>`.
* Generated pages (2024–): `## 新浪 <Site url="…"/>`, `### 财经－国內 <Site …/>` and
  `<Route namespace="sina" :data='{"path": …, "example": "/sina/finance", "name": …, "categories": [...]}' />`
  (JSON in single quotes, `'` written as `&#39;`).

The route's `example` becomes the source's `route`. Which heading level is the category, the source and the
channel is decided per page from where the routes sit (see `parse_rsshub_docs`).
"""
from __future__ import annotations

import bisect
import html
import json
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass
from typing import Any

from .categories import category_name, category_slug, pick_category
from .spec import ParseResult, _Collector

_ROUTE_OPEN = re.compile(r"<route(?=[\s/>])", re.I)
_ROUTE_CLOSE = re.compile(r"</route\s*>", re.I)
_HEADING = re.compile(r"^[ ]{0,3}(#{1,6})[ \t]+(.*?)[ \t]*$", re.M)
_FENCE = re.compile(r"^[ ]{0,3}(`{3,}|~{3,})")
_ATTR_NAME = re.compile(r"(?:[:@]|v-bind:)?[A-Za-z_][\w.:-]*")
_UNQUOTED = re.compile(r"[^\s\"'=<>`/]+")
_BLANK_LINE = re.compile(r"\n[ \t\r]*\n")

_SYMBOL_CATEGORIES = {"So", "Sk", "Mn", "Me", "Cf", "Zs"}  # emoji, variation selectors, joiners, spaces


class _TagError(Exception):
    pass


@dataclass(slots=True)
class _Attr:
    value: str | bool
    bound: bool  # `:name="…"` (a Vue binding) or `name={…}` (a JSX expression)


@dataclass(slots=True)
class _RouteTag:
    offset: int
    line: int
    attrs: dict[str, _Attr]


@dataclass(slots=True)
class _Placed:
    tag: _RouteTag
    headings: dict[int, str]  # active heading text by level when the tag appears


def parse_rsshub_docs(markdown: str, *, category: str | None = None, lang: str | None = None) -> ParseResult:
    """Sources from one RSSHub documentation page; returns `(specs, warnings)`.

    `category` replaces every route's category. Otherwise the category is, for generated pages, the route's first
    RSSHub category other than `popular` in the page's language (`lang` "zh"/"en"; by default the language of the
    page's category heading, else Chinese), and for the older forms the heading two levels above the route heading.

    Heading levels: the level holding route headings is the one most routes sit under (a heading equal to the
    route's own name counts as its route heading; a route with a `name` sits under its site heading). The level
    above is the source (site), the level above that the category. A route directly under a site heading takes
    the site name as channel. Malformed tags (never closed, no `example`, broken JSON) are skipped with a
    warning `(line, message)`.
    """
    text = markdown.lstrip("\ufeff")
    out = _Collector()
    masked, front = _mask(text)
    newlines = [i for i, c in enumerate(text) if c == "\n"]

    def line_of(offset: int) -> int:
        return bisect.bisect_right(newlines, offset - 1) + 1

    tags, spans = _scan_routes(masked, line_of, out)
    events: list[tuple[int, int, Any]] = []
    for m in _HEADING.finditer(masked):
        if any(a <= m.start() < b for a, b in spans):
            continue
        heading = _clean_heading(m.group(2))
        if heading:
            events.append((m.start(), len(m.group(1)), heading))
    for tag in tags:
        events.append((tag.offset, 0, tag))
    events.sort(key=lambda e: e[0])

    active: dict[int, str] = {}
    placed: list[_Placed] = []
    for _, level, payload in events:
        if level:
            for deeper in [lv for lv in active if lv >= level]:
                del active[deeper]
            active[level] = payload
        else:
            placed.append(_Placed(payload, dict(active)))

    infos = [(p, _route_info(p.tag, out)) for p in placed]
    votes: Counter[int] = Counter()
    for p, info in infos:
        if info is None or not p.headings:
            continue
        nearest = max(p.headings)
        name = info["name"]
        if name and _same(p.headings[nearest], name):
            votes[nearest] += 1
        elif name:
            votes[nearest + 1] += 1
        else:
            votes[nearest] += 1
    channel_level = max(votes.items(), key=lambda kv: (kv[1], kv[0]))[0] if votes else None

    for p, info in infos:
        if info is None:
            continue
        h = p.headings
        channel = info["name"] or (h.get(channel_level, "") if channel_level else "")
        source = (h.get(channel_level - 1, "") if channel_level else "") or info["namespace"] or ""
        if not channel:
            channel = source
        page_category = (h.get(channel_level - 2, "") if channel_level else "") or front.get("title", "")
        cat = category
        if cat is None and info["categories"] is not None:
            slug = pick_category(info["categories"])
            if slug:
                cat = category_name(slug, lang or _page_lang(page_category))
        if cat is None:
            cat = page_category
        out.add(p.tag.line, f"route {info['route']}", category=cat, source=source, channel=channel,
                route=info["route"])
    out.warnings.sort(key=lambda w: w.line or 0)
    return out.result()


# -- scanning --------------------------------------------------------------------------------------------------

def _mask(text: str) -> tuple[str, dict[str, str]]:
    """Blank out front matter, fenced code and HTML comments (same length, newlines kept); read the front matter."""
    chars = list(text)
    front: dict[str, str] = {}

    def blank(a: int, b: int) -> None:
        for i in range(a, b):
            if chars[i] != "\n":
                chars[i] = " "

    if text.startswith("---\n") or text.startswith("---\r\n"):
        m = re.compile(r"^(?:---|\.\.\.)[ \t]*$", re.M).search(text, 4)
        if m:
            for line in text[4:m.start()].splitlines():
                k, sep, v = line.partition(":")
                if sep and k.strip() in ("title", "category"):
                    front.setdefault("title", v.strip().strip("\"'"))
            blank(0, m.end())
    pos, fence = 0, None
    fence_start = 0
    for line in text.splitlines(keepends=True):
        m = _FENCE.match(line)
        if fence is None and m:
            fence, fence_start = m.group(1), pos
        elif fence is not None and m and m.group(1)[0] == fence[0] and len(m.group(1)) >= len(fence) \
                and not line.strip()[len(m.group(1)):].strip():
            blank(fence_start, pos + len(line))
            fence = None
        pos += len(line)
    if fence is not None:
        blank(fence_start, len(text))
    for m in re.finditer(r"<!--.*?(?:-->|\Z)", text, re.S):
        blank(m.start(), m.end())
    return "".join(chars), front


def _scan_routes(s: str, line_of, out: _Collector) -> tuple[list[_RouteTag], list[tuple[int, int]]]:
    tags: list[_RouteTag] = []
    spans: list[tuple[int, int]] = []
    pos = 0
    while (m := _ROUTE_OPEN.search(s, pos)) is not None:
        start = m.start()
        line = line_of(start)
        try:
            attrs, tag_end, self_closing = _parse_attrs(s, m.end())
        except _TagError as e:
            out.warn(line, f"{e}; skipped")
            pos = m.end()
            continue
        end = tag_end
        if not self_closing:
            close = _ROUTE_CLOSE.search(s, tag_end)
            nxt = _ROUTE_OPEN.search(s, tag_end)
            if close is None or (nxt is not None and nxt.start() < close.start()):
                out.warn(line, "<Route …> block is not closed by </Route>; skipped")
                pos = tag_end
                continue
            end = close.end()
        tags.append(_RouteTag(start, line, attrs))
        spans.append((start, end))
        pos = end
    return tags, spans


def _parse_attrs(s: str, i: int) -> tuple[dict[str, _Attr], int, bool]:
    attrs: dict[str, _Attr] = {}
    n = len(s)
    while True:
        i = _skip_space(s, i, "before '>'")
        if i >= n:
            raise _TagError("unclosed <Route> tag (the file ends before '>')")
        if s.startswith("/>", i):
            return attrs, i + 2, True
        if s[i] == ">":
            return attrs, i + 1, False
        if s[i] == "<":
            raise _TagError("unclosed <Route> tag (another tag starts before '>')")
        m = _ATTR_NAME.match(s, i)
        if m is None:
            raise _TagError(f"unexpected {s[i]!r} in <Route> tag")
        raw_name = m.group()
        bound = raw_name.startswith((":", "v-bind:"))
        name = raw_name.split(":", 1)[1] if raw_name.startswith("v-bind:") else raw_name.lstrip(":@")
        i = m.end()
        j = _skip_space(s, i, f"after {raw_name}")
        if j < n and s[j] == "=":
            i = _skip_space(s, j + 1, f"after {raw_name}=")
            if i >= n:
                raise _TagError("unclosed <Route> tag (the file ends before '>')")
            c = s[i]
            if c in "\"'":
                k = _end_of_quoted(s, i, escapes=bound)
                if k < 0:
                    raise _TagError(f"unterminated value of {raw_name}")
                attrs[name.lower()] = _Attr(s[i + 1:k], bound)
                i = k + 1
            elif c == "{":
                k = _end_of_braces(s, i)
                if k < 0:
                    raise _TagError(f"unterminated {{…}} value of {raw_name}")
                attrs[name.lower()] = _Attr(s[i + 1:k], True)
                i = k + 1
            else:
                mv = _UNQUOTED.match(s, i)
                if mv is None:
                    raise _TagError(f"bad value of {raw_name}")
                attrs[name.lower()] = _Attr(mv.group(), bound)
                i = mv.end()
        else:
            attrs[name.lower()] = _Attr(True, bound)
            i = j


def _skip_space(s: str, i: int, where: str) -> int:
    j = i
    while j < len(s) and s[j] in " \t\r\n":
        j += 1
    if s.count("\n", i, j) >= 2:
        raise _TagError(f"unclosed <Route> tag (blank line {where})")
    return j


def _end_of_quoted(s: str, i: int, *, escapes: bool) -> int:
    """Index of the quote closing the value opened at s[i]; -1 if none before a blank line or the end."""
    q = s[i]
    k = i + 1
    while k < len(s):
        c = s[k]
        if c == q:
            return k
        if escapes and c == "\\":
            k += 2
            continue
        if c == "\n" and _BLANK_LINE.match(s, k):
            return -1
        k += 1
    return -1


def _end_of_braces(s: str, i: int) -> int:
    """Index of the `}` closing the JSX expression opened at s[i] (strings respected); -1 if none."""
    depth, k, quote = 0, i, None
    while k < len(s):
        c = s[k]
        if quote:
            if c == "\\":
                k += 2
                continue
            if c == quote:
                quote = None
        elif c in "\"'`":
            quote = c
        elif c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                return k
        if c == "\n" and _BLANK_LINE.match(s, k):
            return -1
        k += 1
    return -1


# -- one tag ---------------------------------------------------------------------------------------------------

def _route_info(tag: _RouteTag, out: _Collector) -> dict[str, Any] | None:
    a = tag.attrs
    data_attr = a.get("data")
    if data_attr is not None:
        if not isinstance(data_attr.value, str):
            out.warn(tag.line, "<Route :data> without a value; skipped")
            return None
        data, err = _decode_json(data_attr.value)
        if err:
            out.warn(tag.line, f"<Route :data> is not valid JSON ({err}); skipped")
            return None
        if not isinstance(data, dict):
            out.warn(tag.line, "<Route :data> is not a JSON object; skipped")
            return None
        namespace = _text(a.get("namespace"))
        example = data.get("example")
        path = data.get("path")
        name = data.get("name") if isinstance(data.get("name"), str) else ""
        cats = data.get("categories") if isinstance(data.get("categories"), list) else []
        where = f"/{namespace}{path}" if namespace and isinstance(path, str) else (str(path) if path else "?")
        if not isinstance(example, str) or not example.strip():
            out.warn(tag.line, f"<Route> {where} has no example; skipped")
            return None
        route = example.strip()
    else:
        namespace = ""
        cats = None
        name = _text(a.get("name"))
        route = _text(a.get("example")).strip()
        if not route:
            path = _text(a.get("path")) or "?"
            out.warn(tag.line, f"<Route path=\"{path}\"> has no example; skipped")
            return None
    if not route.startswith("/"):
        route = "/" + route
    return {"route": route, "name": _clean_inline(name), "namespace": namespace, "categories": cats}


def _text(attr: _Attr | None) -> str:
    if attr is None or not isinstance(attr.value, str):
        return ""
    v = attr.value
    if attr.bound and len(v) >= 2 and v[0] == v[-1] and v[0] in "'\"`":
        v = v[1:-1]  # :example="'/a/b'" — a JS string literal
    return html.unescape(v)


def _decode_json(raw: str) -> tuple[Any, str]:
    fixed = raw.replace("\\'", "'")
    light = fixed.replace("&#39;", "'").replace("&#x27;", "'").replace("&apos;", "'")
    err = ""
    for candidate in (light, html.unescape(fixed)):
        try:
            return json.loads(candidate), ""
        except json.JSONDecodeError as e:
            err = err or f"{e.msg} at column {e.colno}"
    return None, err


# -- headings --------------------------------------------------------------------------------------------------

def _clean_heading(raw: str) -> str:
    s = re.sub(r"[ \t]+#+[ \t]*$", "", raw)  # closing hashes
    s = re.sub(r"\s*\{#[^}]*\}\s*$", "", s)  # {#anchor}
    s = re.sub(r"!\[[^\]]*\]\([^)]*\)", "", s)  # images
    s = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", s)  # links
    s = re.sub(r"<[^>]*>", "", s)  # <Site …/>, <Badge …/>, inline HTML
    s = s.replace("`", "").replace("**", "")
    return _clean_inline(s)


def _clean_inline(s: str) -> str:
    s = " ".join(html.unescape(s).split())
    i = 0
    while i < len(s) and unicodedata.category(s[i]) in _SYMBOL_CATEGORIES:
        i += 1
    return s[i:].strip()


def _same(a: str, b: str) -> bool:
    return _clean_inline(a).casefold() == _clean_inline(b).casefold()


def _page_lang(page_category: str) -> str:
    slug = category_slug(page_category) if page_category else None
    if slug and category_name(slug, "en").casefold() == page_category.casefold():
        return "en"
    return "zh"
