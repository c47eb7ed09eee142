"""Templates (Jinja2, overridable from theme_dir), UI strings and the small text helpers pages need."""
from __future__ import annotations

import hashlib
import html as htmllib
import re
from dataclasses import dataclass
from pathlib import Path

import jinja2

HERE = Path(__file__).parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"

STRINGS = {
    "zh": {"home": "首页", "categories": "分类", "archives": "归档", "search": "搜索", "original": "阅读原文",
           "newer": "较新", "older": "较早", "page": "第 {n} 页", "items": "{n} 篇", "search_placeholder": "搜索新闻…",
           "no_results": "没有找到结果", "results": "{n} 条结果", "loading": "正在加载索引…", "feeds": "订阅",
           "updated": "更新", "by": "作者", "not_found": "页面不存在", "search_off": "本站未启用搜索。"},
    "en": {"home": "Home", "categories": "Categories", "archives": "Archives", "search": "Search",
           "original": "Original article", "newer": "Newer", "older": "Older", "page": "Page {n}",
           "items": "{n} items", "search_placeholder": "Search news…", "no_results": "No results",
           "results": "{n} results", "loading": "Loading index…", "feeds": "Feeds", "updated": "Updated",
           "by": "By", "not_found": "Page not found", "search_off": "Search is off on this site."},
}


def strings(language: str) -> dict[str, str]:
    return STRINGS["zh" if language.lower().startswith("zh") else "en"]


def environment(theme_dir: Path | None) -> jinja2.Environment:
    """A template in theme_dir (or theme_dir/templates) wins over the bundled one of the same name."""
    search: list[str] = []
    if theme_dir:
        search += [str(theme_dir / "templates"), str(theme_dir)]
    search.append(str(TEMPLATES))
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(search), autoescape=True, trim_blocks=True,
                             lstrip_blocks=True, auto_reload=False)
    return env


def static_files(theme_dir: Path | None) -> dict[str, Path]:
    """name -> file for everything copied to static/ (theme_dir/static/<name> wins)."""
    files = {p.name: p for p in sorted(STATIC.iterdir()) if p.is_file()}
    if theme_dir and (theme_dir / "static").is_dir():
        files.update({p.name: p for p in sorted((theme_dir / "static").iterdir()) if p.is_file()})
    return files


def fingerprint(env: jinja2.Environment, theme_dir: Path | None, config: str) -> str:
    """Changes when anything a page is made from changes, other than its items: templates, static files,
    the site config and this package's code."""
    h = hashlib.sha256(config.encode())
    for name in sorted(env.list_templates()):
        source, filename, _ = env.loader.get_source(env, name)
        h.update(f"\0{name}\0{filename}\0".encode())
        h.update(source.encode())
    for name, path in static_files(theme_dir).items():
        h.update(f"\0{name}\0".encode())
        h.update(path.read_bytes())
    for py in sorted(HERE.glob("*.py")):
        h.update(py.read_bytes())
    return h.hexdigest()


_TAG = re.compile(r"<[^>]*>")
_SPACE = re.compile(r"\s+")
_IMG_NO_POLICY = re.compile(r"<img\b(?![^>]*\breferrerpolicy\s*=)", re.I)
_XML_BAD = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


EXCERPT = 140


def excerpt(html: str, limit: int = EXCERPT) -> str:
    text = _SPACE.sub(" ", htmllib.unescape(_TAG.sub(" ", html))).strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def excerpt_source(html: str, limit: int = EXCERPT) -> str:
    """Enough of the HTML to make the excerpt from later, without keeping the whole body."""
    return html[: limit * 10]


def safe_body(html: str) -> str:
    """The stored HTML is already cleaned; make sure every image still sends no referrer."""
    if "<img" in html or "<IMG" in html:
        html = _IMG_NO_POLICY.sub('<img referrerpolicy="no-referrer"', html)
    return html


def xml_text(text: str) -> str:
    return _XML_BAD.sub("", text)


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
    raw: str = ""  # the start of the body, for the excerpt
    load: object = None  # when raw is not there: a function that returns it
    _excerpt: str | None = None
    _card: str | None = None

    @property
    def excerpt(self) -> str:
        if self._excerpt is None:
            raw = self.raw or (self.load() if self.load else "")
            self._excerpt, self.raw, self.load = excerpt(raw), "", None
        return self._excerpt


ROOT_MARK = "\x00"  # cards are rendered once, with this in place of the page's root; see Builder.cards
