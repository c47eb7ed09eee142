"""The built-in static news site (SPEC §7): `build_site()` writes it from the store, `serve()` previews it.

    from tidings.publish.site import SiteConfig, build_site, serve
    report = build_site(store, SiteConfig(title="资讯", url="https://news.example.com/",
                                          timezone="Asia/Shanghai", language="zh-CN"), Path("public"))

URL scheme, incremental rules and search sharding: docs/site.md.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .context import Progress
    from .serve import make_server, serve


def __getattr__(name: str) -> Any:
    """`serve` and `make_server` on first use: a build does not need the HTTP server's modules."""
    if name in ("serve", "make_server"):
        import importlib

        module = importlib.import_module(f"{__name__}.serve")  # binds our `serve` to the module: rebind both
        globals().update(serve=module.serve, make_server=module.make_server)
        return globals()[name]
    raise AttributeError(name)


@dataclass
class SiteConfig:
    title: str
    url: str  # absolute base URL; feeds, sitemap, canonical and og: URLs start with it
    timezone: str = "UTC"  # IANA zone for dates shown and for /a/<yyyy>/<mm>/<dd>/ and archives
    language: str = "en"  # <html lang>; 'zh…' switches the UI strings to Chinese
    per_page: int = 30
    search: bool = True  # Pagefind index + search page; False = neither
    theme_dir: Path | None = None  # templates (and static/) here win over the bundled ones
    description: str = ""
    feed_items: int = 20  # items in each RSS / Atom / JSON feed
    tag_min_items: int = 3  # a keyword of this many listed items gets a page and feeds (0: no tag pages)


@dataclass
class SiteReport:
    written: int = 0  # files created or rewritten (content changed)
    unchanged: int = 0  # files left as they were
    deleted: int = 0  # files of items / pages that are gone
    elapsed: float = 0.0  # seconds, whole build
    items: int = 0
    search_shards: int = 0  # Pagefind bundles that make up the index
    search_indexed: int = 0  # of those, re-indexed by this build
    search_seconds: float = 0.0
    written_files: list[str] = field(default_factory=list, repr=False)
    deleted_files: list[str] = field(default_factory=list, repr=False)

    def summary(self) -> str:
        s = (f"site: {self.items} items, {self.written} files written, {self.unchanged} unchanged, "
             f"{self.deleted} deleted in {self.elapsed:.2f}s")
        if self.search_shards:
            s += f"; search: {self.search_indexed}/{self.search_shards} shards indexed in {self.search_seconds:.2f}s"
        return s


def build_site(store: Any, cfg: SiteConfig, out_dir: Path, *, progress: Progress | None = None,
               full: bool = False) -> SiteReport:
    """Build (incrementally) the site for `cfg` from `store` into `out_dir`.

    An incremental build trusts the output directory to hold what the last build wrote; `full` checks
    every file (one deleted or edited by hand is made again). `progress`, if given, is called as
    progress(stage, done, total) with stage 'pages' (done/total items) or 'search' (done/total shards).
    """
    from .build import build

    return build(store, cfg, Path(out_dir), progress, full=full)


__all__ = ["SiteConfig", "SiteReport", "build_site", "make_server", "serve"]
