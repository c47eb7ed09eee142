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

English pages of the first two layouts write `<RouteEn …>` (and `</RouteEn>`) where Chinese pages write `<Route …>`.

The route's `example` becomes the source's `route`. Which heading is a route's category, source and channel is read
from that route's own headings and their neighbours (see `_Outline`), so pages that mix the forms come out right.
"""
from __future__ import annotations

import bisect
import html
import json
import re
import unicodedata
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .categories import category_name, category_slug, pick_category
from .spec import ParseResult, _Collector

# `<Route>` on Chinese pages, `<RouteEn>` on the English ones (2019–2023); any case (`<route name=…>` in the oldest).
_ROUTE_OPEN = re.compile(r"<route(?:en)?(?=[\s/>])", re.IGNORECASE)
_ROUTE_CLOSE = re.compile(r"</route(?:en)?\s*>", re.IGNORECASE)
# A tag that looks like a route (a Route-something with a path, example or data) but is none of the known forms.
_ROUTE_LIKE = re.compile(r"<(route[\w-]*)\b[^<>]*?\s:?(?:path|example|data)\s*=", re.IGNORECASE)
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
    name: str = "Route"  # as the page writes it (`Route`, `RouteEn`), for warnings


@dataclass(slots=True)
class _Placed:
    tag: _RouteTag
    chain: list[_Heading]  # the headings open where the tag appears, shallowest first


def parse_rsshub_docs(markdown: str, *, category: str | None = None, lang: str | None = None) -> ParseResult:
    """Sources from one RSSHub documentation page; returns `(specs, warnings)`.

    `category` replaces every route's category. Otherwise the category is, for generated pages, the route's first
    RSSHub category other than `popular` in the page's language (`lang` "zh"/"en"; by default the language of the
    page's category heading, else Chinese), and for the older forms the heading above the route's site heading
    (else the front matter's `title:`).

    Headings, per route: a route named in its tag sits under its site heading (or under a heading equal to its
    name); an unnamed route's nearest heading is its route heading, unless that heading is a site: one whose
    siblings hold route headings or named routes, or at the page's usual site level, or right under the page
    title. Headings between the site and the route join the channel (`Repository › Issues`). Every route tag is
    imported or named in a warning `(line, message)`: never closed, no `example`, broken JSON, unknown tag name.
    """
    text = markdown.lstrip("\ufeff")
    out = _Collector()
    masked, front = _mask(text)
    newlines = [i for i, c in enumerate(text) if c == "\n"]

    def line_of(offset: int) -> int:
        return bisect.bisect_right(newlines, offset - 1) + 1

    tags, spans = _scan_routes(masked, line_of, out)
    _warn_unknown_tags(masked, tags, spans, line_of, out)
    headings: list[_Heading] = []
    events: list[tuple[int, int, Any]] = []
    for m in _HEADING.finditer(masked):
        if any(a <= m.start() < b for a, b in spans):
            continue
        text = _clean_heading(m.group(2))
        if text:
            events.append((m.start(), len(m.group(1)), text))
    for tag in tags:
        events.append((tag.offset, 0, tag))
    events.sort(key=lambda e: e[0])

    chain: list[_Heading] = []  # the open headings, shallowest first
    placed: list[_Placed] = []
    for _, level, payload in events:
        if level:
            while chain and chain[-1].level >= level:
                chain.pop()
            heading = _Heading(len(headings), level, payload, chain[-1].index if chain else None)
            headings.append(heading)
            chain.append(heading)
        else:
            placed.append(_Placed(payload, list(chain)))

    infos = [(p, _route_info(p.tag, out)) for p in placed]
    outline = _Outline(headings, [(p.chain, info["name"] if info else "") for p, info in infos],
                       has_page_title=bool(front.get("title")))
    for p, info in infos:
        if info is None:
            continue
        site, channel_path = outline.place(p.chain, info["name"])
        source = site.text if site else info["namespace"] or ""
        channel = " › ".join([*channel_path, info["name"]] if info["name"] else channel_path) or source
        above_site = [h.text for h in p.chain if site and h.level < site.level]
        page_category = above_site[-1] if above_site else front.get("title", "")
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


@dataclass(slots=True)
class _Heading:
    index: int
    level: int
    text: str
    parent: int | None


class _Outline:
    """Which heading is each route's site (source), from the page's own structure around it.

    RSSHub pages nest category › site › route heading, but not uniformly: a site with one route often has no route
    heading, the oldest pages name the route in the tag and sit it under the site, and the single-page docs put the
    category one level lower. So a heading's role is read from its neighbourhood, not from a page-wide level.
    """

    def __init__(self, headings: list[_Heading], routes: list[tuple[list[_Heading], str]], *, has_page_title: bool):
        self.headings = headings
        self.has_page_title = has_page_title
        self.routes_below = [False] * len(headings)  # a deeper heading holds a route
        self.site_like = [False] * len(headings)
        for chain, name in routes:
            for h in chain[:-1]:
                self.routes_below[h.index] = True
            if chain and name and not _same(chain[-1].text, name):
                self.site_like[chain[-1].index] = True  # <route name="…"> sits right under its site
        for h in headings:
            self.site_like[h.index] = self.site_like[h.index] or self.routes_below[h.index]
        self.children: dict[int | None, list[_Heading]] = {}
        for h in headings:
            self.children.setdefault(h.parent, []).append(h)
        # Levels of headings known to be sites: the page's usual site level, for routes nothing else places.
        votes: Counter[int] = Counter()
        for chain, name in routes:
            if not chain:
                continue
            nearest = chain[-1]
            if name and _same(nearest.text, name):
                if len(chain) > 1:
                    votes[chain[-2].level] += 1
            elif name or self._sibling_is_site(nearest):
                votes[nearest.level] += 1
        self.site_level = max(votes.items(), key=lambda kv: (kv[1], -kv[0]))[0] if votes else None

    def _sibling_is_site(self, h: _Heading) -> bool:
        return any(self.site_like[s.index] for s in self.children.get(h.parent, [])
                   if s is not h and s.level == h.level)

    def _is_site(self, h: _Heading, depth: int) -> bool:
        """Whether the heading right above an unnamed route is its site (the route has no heading of its own)."""
        if self._sibling_is_site(h) or self.routes_below[h.index]:
            return True
        if self.site_level is not None:
            return h.level <= self.site_level
        return depth < 2  # `# category`, `## site`, route: too shallow for a route heading

    def place(self, chain: list[_Heading], name: str) -> tuple[_Heading | None, list[str]]:
        """(site heading, channel headings below it) for a route under `chain`; the tag's name comes after them."""
        if not chain:
            return None, []
        nearest = chain[-1]
        ancestors = chain[:-1]
        depth = len(ancestors) + (1 if self.has_page_title and chain[0].level > 1 else 0)
        if name and not _same(nearest.text, name):
            # the heading above a named route is its site, unless the page's sites sit higher (a group heading)
            site = next((h for h in ancestors if h.level == self.site_level), nearest)
            return site, [h.text for h in chain if h.level > site.level]
        if not name and self._is_site(nearest, depth):
            return nearest, [nearest.text]
        if not ancestors:
            return None, [] if name else [nearest.text]
        site = ancestors[-1]
        if self.site_level is not None:
            site = next((h for h in ancestors if h.level == self.site_level), site)
        below = [h.text for h in ancestors if h.level > site.level]
        return site, below if name else [*below, nearest.text]


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


def _scan_routes(s: str, line_of: Callable[[int], int],
                 out: _Collector) -> tuple[list[_RouteTag], list[tuple[int, int]]]:
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
                name = m.group(0)[1:]
                out.warn(line, f"<{name} …> block is not closed by </{name}>; skipped")
                pos = tag_end
                continue
            end = close.end()
        tags.append(_RouteTag(start, line, attrs, m.group(0)[1:]))
        spans.append((start, end))
        pos = end
    return tags, spans


def _warn_unknown_tags(s: str, tags: list[_RouteTag], spans: list[tuple[int, int]],
                       line_of: Callable[[int], int], out: _Collector) -> None:
    """Name every route-like tag that was not read, so that no documented route disappears without a word."""
    read = {t.offset for t in tags}
    for m in _ROUTE_LIKE.finditer(s):
        if m.start() in read or any(a <= m.start() < b for a, b in spans):
            continue
        if _ROUTE_OPEN.match(s, m.start()):
            continue  # a known tag that was skipped with its own warning
        out.warn(line_of(m.start()),
                 f"<{m.group(1)}> is not a route tag tidings knows (<Route>, <RouteEn>); skipped")


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
            out.warn(tag.line, f"<{tag.name} :data> without a value; skipped")
            return None
        data, err = _decode_json(data_attr.value)
        if err:
            out.warn(tag.line, f"<{tag.name} :data> is not valid JSON ({err}); skipped")
            return None
        if not isinstance(data, dict):
            out.warn(tag.line, f"<{tag.name} :data> is not a JSON object; skipped")
            return None
        namespace = _text(a.get("namespace"))
        example = data.get("example")
        path = data.get("path")
        raw_name = data.get("name")
        name = raw_name if isinstance(raw_name, str) else ""
        cats = data.get("categories") if isinstance(data.get("categories"), list) else []
        paths = ([path] if isinstance(path, str)
                 else [x for x in path if isinstance(x, str)] if isinstance(path, list) else [])
        where = ", ".join(f"/{namespace}{x}" if namespace else x for x in paths) or "?"
        if not isinstance(example, str) or not example.strip():
            out.warn(tag.line, f"<{tag.name}> {where} has no example; skipped")
            return None
        route = example.strip()
    else:
        namespace = ""
        cats = None
        name = _text(a.get("name"))
        route = _text(a.get("example")).strip()
        if not route:
            path = _text(a.get("path")) or "?"
            out.warn(tag.line, f"<{tag.name} path=\"{path}\"> has no example; skipped")
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
