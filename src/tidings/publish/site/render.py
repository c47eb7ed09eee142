"""Templates (Jinja2, overridable from theme_dir), UI strings and the small text helpers pages need."""
from __future__ import annotations

import html as htmllib
import os
import re
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from types import CodeType
from typing import Any

import jinja2
import markupsafe
from jinja2.environment import TemplateModule
from jinja2.runtime import Context

from .inputs import template_dirs

STRINGS = {
    "zh": {"home": "首页", "categories": "分类", "archives": "归档", "search": "搜索", "original": "阅读原文",
           "newer": "较新", "older": "较早", "page": "第 {n} 页", "items": "{n} 篇", "search_placeholder": "搜索新闻…",
           "no_results": "没有找到结果", "results": "{n} 条结果", "loading": "正在加载索引…",
           "search_failed": "搜索索引无法加载。", "feeds": "订阅", "updated": "更新",
           "also_reported": "其他媒体报道", "tags": "标签", "first_reported": "最早报道：",
           "by": "作者", "not_found": "页面不存在", "search_off": "本站未启用搜索。"},
    "en": {"home": "Home", "categories": "Categories", "archives": "Archives", "search": "Search",
           "original": "Original article", "newer": "Newer", "older": "Older", "page": "Page {n}",
           "items": "{n} items", "search_placeholder": "Search news…", "no_results": "No results",
           "results": "{n} results", "loading": "Loading index…",
           "search_failed": "The search index could not be loaded.", "feeds": "Feeds", "updated": "Updated",
           "also_reported": "Also reported by", "tags": "Tags", "first_reported": "First reported: ",
           "by": "By", "not_found": "Page not found", "search_off": "Search is off on this site."},
}


def strings(language: str) -> dict[str, str]:
    return STRINGS["zh" if language.lower().startswith("zh") else "en"]


try:
    from markupsafe._speedups import _escape_inner

    _SPEEDUPS = True
except ImportError:  # pragma: no cover - markupsafe without its C speedups, or a future one
    _SPEEDUPS = False  # _escape_inner is then undefined, and _escape_out never installed


def _escape_out(s: object) -> str:
    """markupsafe.escape for what a template outputs, minus the Markup object it wraps every value in
    (a third of an item page's render time): the output is joined into a str anyway."""
    if type(s) is str:
        return _escape_inner(s)
    html = getattr(s, "__html__", None)
    if html is not None:
        v = html()
        return v if isinstance(v, str) else str(v)
    return _escape_inner(str(s))


def escape_text(s: str) -> str:
    """What a template outputs for the str `s` (`{{ s }}`, autoescaped)."""
    return _escape_inner(s) if _SPEEDUPS else str(markupsafe.escape(s))


class Attrs(dict[str, Any]):
    """A dict templates read by attribute (`site.title`, `t.newer`, `chrome.head`) at the cost of an
    object's: Jinja's getattr on a plain dict first raises and catches an AttributeError (~2 µs each).
    Keys named like a dict method stay out of the attributes, so `t.items` is the method, as on a dict."""

    def __init__(self, values: dict[str, Any]) -> None:
        super().__init__(values)
        self.__dict__.update((k, v) for k, v in values.items() if not hasattr(dict, k))

    def __setitem__(self, key: str, value: Any) -> None:
        raise TypeError("Attrs is read-only")

    def __reduce__(self) -> tuple[type[Attrs], tuple[dict[str, Any]]]:
        return Attrs, (dict(self),)


class _Template(jinja2.Template):
    """jinja2.Template, rendering the same output with less overhead per call: pages are rendered
    tens of thousands of times per build."""

    _plain_globals: dict[str, Any] | None = None

    @classmethod
    def from_code(cls, environment: jinja2.Environment, code: CodeType, globals: MutableMapping[str, Any],
                  uptodate: Callable[[], bool] | None = None) -> jinja2.Template:
        t = super().from_code(environment, code, globals, uptodate)
        # Compiled templates call `escape` only on output (jinja2.compiler: _output_child_pre).
        if _SPEEDUPS and t.root_render_func.__globals__.get("escape") is markupsafe.escape:
            t.root_render_func.__globals__["escape"] = _escape_out
        return t

    def _globals_dict(self) -> dict[str, Any]:
        g = self._plain_globals
        if g is None:
            g = self._plain_globals = dict(self.globals)
        return g

    def _get_default_module(self, ctx: Context | None = None) -> TemplateModule:
        # Called by every `import` of this template at every render. Jinja's takes the keys of the ChainMap of
        # globals apart in Python (~10 µs); the plain dict gives the same set.
        if ctx is not None and ctx.globals_keys - self._globals_dict().keys():
            return super()._get_default_module(ctx)
        return super()._get_default_module()

    def render(self, *args: Any, **kwargs: Any) -> str:
        # Template.render, with the template's globals (a ChainMap, slow to copy and to iterate) copied
        # into a plain dict once, not at every call.
        env = self.environment
        if env.is_async:  # pragma: no cover - not used here
            return super().render(*args, **kwargs)
        g = self._globals_dict()
        ctx = env.context_class(env, {**g, **(dict(*args, **kwargs) if args else kwargs)}, self.name, self.blocks,
                                globals=g)
        try:
            return env.concat(self.root_render_func(ctx))
        except Exception:  # noqa: BLE001 - as jinja2.Template.render: rewrites the traceback
            env.handle_exception()


class _BytecodeCache(jinja2.FileSystemBytecodeCache):
    """Compiled templates kept between runs (compiling them costs a small build more than rendering its
    pages); keyed by Jinja2 on the template's source, so an edited template is compiled again. A cache that
    cannot be read or written is no cache."""

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        try:
            super().load_bytecode(bucket)
        except (OSError, EOFError, ValueError):
            bucket.reset()

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        try:
            super().dump_bytecode(bucket)
        except OSError:
            pass


def _bytecode_cache() -> jinja2.BytecodeCache | None:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    directory = os.path.join(base, "tidings", "templates")
    try:
        os.makedirs(directory, exist_ok=True)
    except OSError:
        return None
    return _BytecodeCache(directory)


class _Environment(jinja2.Environment):
    """jinja2.Environment whose get_template is a dict lookup once a template is loaded: pages call it at every
    render (`extends`, `import`), and Jinja's own cache costs ~1.5 µs a call. Templates are not reloaded."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._loaded: dict[tuple[str, str | None], jinja2.Template] = {}

    def get_template(self, name: str | jinja2.Template, parent: str | None = None,
                     globals: MutableMapping[str, Any] | None = None) -> jinja2.Template:
        if globals is not None or not isinstance(name, str):
            return super().get_template(name, parent, globals)
        t = self._loaded.get((name, parent))
        if t is None:
            t = self._loaded[(name, parent)] = super().get_template(name, parent)
        return t


def environment(theme_dir: Path | None) -> jinja2.Environment:
    """A template in theme_dir (or theme_dir/templates) wins over the bundled one of the same name."""
    loader = jinja2.FileSystemLoader([str(d) for d in template_dirs(theme_dir)])
    env = _Environment(loader=loader, autoescape=True, trim_blocks=True, lstrip_blocks=True,
                       auto_reload=False, bytecode_cache=_bytecode_cache())
    env.template_class = _Template
    return env


def bundled(env: jinja2.Environment) -> bool:
    """Whether every template is the bundled one (a theme may still replace static files): then what the
    templates do with a variable is known, and pages splice their body or cards in as bytes. Bundled templates
    only refer to bundled names, so it is enough that the loader finds each of those in the package."""
    from .inputs import TEMPLATES

    loader = env.loader
    assert loader is not None  # environment() always sets one
    for path in TEMPLATES.iterdir():
        if not path.is_file():
            continue
        filename = loader.get_source(env, path.name)[1]
        if filename is None or Path(filename).resolve() != path.resolve():
            return False
    return True


def mentions(env: jinja2.Environment, name: str, word: str) -> bool:
    """Whether `word` is in the source of template `name` or of any template it extends, includes or imports
    (True when one of those is chosen at render time: it could be anything)."""
    from jinja2 import meta

    loader = env.loader
    assert loader is not None  # environment() always sets one
    seen: set[str] = set()
    todo = [name]
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        source = loader.get_source(env, current)[0]
        if word in source:
            return True
        refs = list(meta.find_referenced_templates(env.parse(source)))
        if None in refs:
            return True
        todo += [r for r in refs if r is not None]  # (there is none by now)
    return False


_TAG = re.compile(r"<[^>]*>")
_IMG_NO_POLICY = re.compile(r"<img\b(?![^>]*\breferrerpolicy\s*=)", re.IGNORECASE)
_IMG_POLICY = '<img referrerpolicy="no-referrer"'
_XML_BAD = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


EXCERPT = 140


def _text(html: str) -> str:
    # str.split() splits on exactly what re's \s matches in a str, and is much faster on CJK text (docs/site.md)
    return " ".join(htmllib.unescape(_TAG.sub(" ", html)).split())


def excerpt(html: str, limit: int = EXCERPT) -> str:
    """The first `limit` characters of the text (… when cut)."""
    if len(html) > 3 * limit:
        text = _head_excerpt(html[: 3 * limit], limit)
        if text is not None:
            return text
    text = _text(html)
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _head_excerpt(head: str, limit: int) -> str | None:
    """The excerpt from the first 3×limit characters of a longer HTML, if they hold enough text (usually, and
    cheaper). Their text is a prefix of the whole text once a tag or character reference cut at the end is dropped."""
    while True:
        cut = head.find("<", head.rfind(">") + 1)  # a tag not closed in head
        if cut < 0:
            cut = head.find("&", head.rfind(";") + 1)  # a character reference maybe cut short
            if cut < 0:
                break
        head = head[:cut]
    text = _text(head)
    return text[: limit - 1].rstrip() + "…" if len(text) > limit else None


def excerpt_utf8(data: bytes, limit: int = EXCERPT) -> str:
    """excerpt(excerpt_source_utf8(data)), decoding only the first 3×limit characters when they are enough."""
    head = data[: 12 * limit + 4].decode("utf-8", "ignore")  # (at least 3×limit + 1 characters, if there are)
    if len(head) > 3 * limit:
        text = _head_excerpt(head[: 3 * limit], limit)
        if text is not None:
            return text
    return excerpt(excerpt_source_utf8(data, limit), limit)


def excerpt_source(html: str, limit: int = EXCERPT) -> str:
    """Enough of the HTML to make the excerpt from later, without keeping the whole body."""
    return html[: limit * 10]


def excerpt_source_utf8(data: bytes, limit: int = EXCERPT) -> str:
    """excerpt_source() of UTF-8 bytes, decoding only what it keeps (4 bytes at most per character)."""
    return data[: limit * 40].decode("utf-8", "ignore")[: limit * 10]


def safe_body(html: str) -> str:
    """The stored HTML is already cleaned; make sure every image still sends no referrer."""
    # One substitution, nothing before it: on the cleaner's output (every <img> has its referrerpolicy,
    # after src and alt) it finds nothing, and a pre-check (counting <img>) cost more than it saved.
    return _IMG_NO_POLICY.sub(_IMG_POLICY, html)


def xml_text(text: str) -> str:
    return _XML_BAD.sub("", text)


# An item's card (its <li> in listings), with ROOT_MARK for the page's root; or split at the marks, as str, or as
# UTF-8 to be spliced into the page (SiteWriter.cards, SiteWriter.listing).
Card = str | tuple[str, ...] | tuple[bytes, ...]


@dataclass(slots=True)
class Summary:
    """What listing pages and neighbour links show of an item: small, no body. The excerpt and the card
    (the item's <li> in listings) are made only when a page that shows them is rendered."""

    href: str
    title: str
    cover: str
    time: str
    iso: str
    label: str  # 'source › channel' (or the deepest names)
    node_href: str  # link to the item's channel node
    key: str  # fingerprint of everything shown
    raw: str | bytes = ""  # the start of the body, for the excerpt (or its UTF-8 bytes)
    load: Callable[[], str] | None = None  # when raw is not there: a function that returns it
    _excerpt: str | None = None
    _card: Card | None = None
    wait: bool = False  # its page is with a worker, which sends back its excerpt and card (pages.py)

    def __post_init__(self) -> None:
        # The key covers node_href too: a node's directory depends on its siblings' names (urls.node_segments
        # hashes names that would share one), so it can change while nothing of the item does, and cards,
        # the item page's breadcrumbs (all ancestors' directories are in node_href) and their fingerprints
        # must follow. Idempotent: a Summary rebuilt from a packed one (pages.py) keeps its key.
        tail = "|" + self.node_href
        if not self.key.endswith(tail):
            self.key += tail

    @property
    def excerpt(self) -> str:
        if self._excerpt is None:
            raw = self.raw or (self.load() if self.load else "")
            self._excerpt = excerpt_utf8(raw) if isinstance(raw, bytes) else excerpt(raw)
            self.raw, self.load = "", None
        return self._excerpt


ROOT_MARK = "\x00"  # cards are rendered once, with this in place of the page's root; see SiteWriter.cards
# What bundled templates get in place of a listing's cards, spliced in afterwards as bytes (each card encoded once).
# Used only if it is in the page just once. (Item pages: shells.py.)
CARDS_MARK = "\x00tidings-cards\x00"
