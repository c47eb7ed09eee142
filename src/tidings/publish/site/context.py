"""What every generator of one build shares: the settings in effect, the category tree and archive years
(from the counts), and the record of one item as the newest-first pass hands it out."""
from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple, TypedDict
from zoneinfo import ZoneInfo

import jinja2

from ...store import Counts
from . import inputs, render, urls

if TYPE_CHECKING:
    from ...store import StoredItem
    from . import SiteConfig
    from .stories import Hidden

Node = tuple[str, ...]  # (category,), (category, source) or (category, source, channel)
Progress = Callable[[str, int, int], None]  # (stage, done, total)


def fingerprint(*parts: str) -> str:
    """sha256 of the parts, each followed by a NUL (one update: the same digest as one per part)."""
    return hashlib.sha256("\0".join((*parts, "")).encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True)
class BuildContext:
    """The build's settings, templates and global fingerprint (templates, static files, config, code)."""

    cfg: SiteConfig
    tz: ZoneInfo
    t: dict[str, str]  # UI strings in the site's language
    base_url: str  # cfg.url, ending in '/'
    theme: Path | None
    env: jinja2.Environment
    fp: str
    static: dict[str, Path]  # name -> file copied to static/
    static_v: str  # version of the static files, in their URLs
    site: dict[str, object]  # `site` in templates

    @classmethod
    def create(cls, cfg: SiteConfig) -> BuildContext:
        theme = Path(cfg.theme_dir) if cfg.theme_dir else None
        env = render.environment(theme)
        static = inputs.static_files(theme)
        if not cfg.search:
            static.pop("search.js", None)
        base_url = cfg.url.rstrip("/") + "/"
        return cls(cfg=cfg, tz=ZoneInfo(cfg.timezone), t=render.strings(cfg.language), base_url=base_url,
                   theme=theme, env=env, fp=inputs.fingerprint(cfg), static=static,
                   static_v=fingerprint(*(p.read_bytes().hex() for p in static.values()))[:10],
                   site={"title": cfg.title, "url": base_url, "language": cfg.language,
                         "description": cfg.description, "search": cfg.search})


class Entry(NamedTuple):
    """One item of the newest-first pass, with what every generator needs of it."""

    item: StoredItem  # its html is UTF-8 bytes in a full build, "" in a light one (see build.py)
    path: str  # of its page
    local: datetime  # published, in the site's time zone
    node: Node  # its channel: (category, source, channel) without the empty names
    summary: render.Summary
    hidden: Hidden | None = None  # the listings that show another item of its story instead (stories.py)


class MonthEntry(TypedDict):
    month: int
    count: int
    href: str  # 'archives/yyyy/mm/'


class YearEntry(TypedDict):
    """One year of the archive, as archive pages and the sitemap list it."""

    year: int
    count: int
    href: str  # 'archives/yyyy/'
    months: list[MonthEntry]  # newest first


class Tree:
    """The category tree and the archive's years and months, from the counts made before the pass."""

    def __init__(self, counts: Counts, tags: dict[str, int] | None = None) -> None:
        self.counts = counts
        self.tags = tags or {}  # keyword -> listed items, for those with a page
        self.tag_segs = urls.tag_segments(self.tags)
        self.segs = urls.node_segments(counts.nodes)  # node -> its directory
        self.hrefs = {node: urls.href(path) for node, path in self.segs.items()}
        self._crumbs: dict[Node, list[tuple[str, str]]] = {}
        self._chains: dict[Node, tuple[Node, ...]] = {}
        self._lineages: dict[Node, tuple[Node, ...]] = {}
        self.years = self._years()

    def chain(self, node: Node) -> tuple[Node, ...]:
        """The node and its ancestors, top first: ('a',), ('a', 'b'), ..."""
        c = self._chains.get(node)
        if c is None:
            c = self._chains[node] = tuple(node[:i] for i in range(1, len(node) + 1))
        return c

    def lineage(self, node: Node) -> tuple[Node, ...]:
        """The site's root (), then chain(node)."""
        c = self._lineages.get(node)
        if c is None:
            c = self._lineages[node] = ((), *self.chain(node))
        return c

    def crumbs(self, node: Node) -> list[tuple[str, str]]:
        c = self._crumbs.get(node)
        if c is None:
            c = self._crumbs[node] = [(node[i - 1], self.hrefs[node[:i]]) for i in range(1, len(node) + 1)]
        return c

    def children(self, node: Node) -> list[dict[str, object]]:
        nodes = self.counts.nodes
        kids = sorted(n for n in nodes if len(n) == len(node) + 1 and n[: len(node)] == node)
        return [{"name": k[-1], "href": self.hrefs[k], "count": nodes[k]} for k in kids]

    def cloud(self, limit: int = 100) -> list[dict[str, object]]:
        """The most used tags with a page, by name, each with a weight from 1 to 5 (its count's log scale)."""
        top = sorted(self.tags.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]
        if not top:
            return []
        lo, hi = math.log(top[-1][1]), math.log(top[0][1])
        return [{"name": name, "href": urls.href(self.tag_segs[name]), "count": n,
                 "weight": 1 + round(4 * (math.log(n) - lo) / (hi - lo)) if hi > lo else 3}
                for name, n in sorted(top)]

    def tree(self, node: Node = ()) -> list[dict[str, object]]:
        return [{**c, "children": self.tree(node + (str(c["name"]),))} for c in self.children(node)]

    def _years(self) -> list[YearEntry]:
        """Years, newest first, each with its months: what archive pages and the sitemap list."""
        months, years = self.counts.months(), self.counts.years()
        return [{"year": y, "count": years[y], "href": f"archives/{y}/",
                 "months": [{"month": m, "count": months[(y, m)], "href": f"archives/{y}/{m:02d}/"}
                            for (yy, m) in sorted(months, reverse=True) if yy == y]}
                for y in sorted(years, reverse=True)]
