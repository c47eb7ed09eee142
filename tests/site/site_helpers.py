"""Shared fixtures: a generated store (Chinese + English, several categories/sources/channels, some items
without cover) and helpers to walk a built site."""
from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import unquote, urlsplit

from tidings.publish.site import SiteConfig, samples
from tidings.store import IngestRow, Store, open_store

N_ITEMS = 160
NEEDLE_ZH = "量子纠缠"  # only in one item: the search tests look for it
NEEDLE_EN = "zephyrine"


def make_store(path: Path | str, n: int = N_ITEMS) -> Store:
    store = open_store(path)
    sources = samples.fill(store, n, step_minutes=300, start=datetime(2024, 6, 30, 12, tzinfo=UTC))
    # One findable item in the middle of the range.
    import random
    e, html = samples.entry(sources[0], 10_000, datetime(2024, 6, 10, 8, tzinfo=UTC), random.Random(1),
                            word=f"{NEEDLE_ZH}实验 {NEEDLE_EN}")
    store.upsert_entries([IngestRow(e, html)])
    return store


def config(**kw) -> SiteConfig:
    base = dict(title="资讯聚合", url="https://news.example.com/", timezone="Asia/Shanghai", language="zh-CN",
                per_page=10, search=False)
    base.update(kw)
    return SiteConfig(**base)


def html_files(out: Path) -> list[Path]:
    return sorted(p for p in out.rglob("*.html") if "_pagefind" not in p.parts)


_LINK = re.compile(r'\s(?:href|src)="([^"]*)"')


def internal_targets(out: Path, page: Path, base_path: str = "/") -> list[tuple[str, Path]]:
    """(link, file it must resolve to) for every internal href/src on `page`."""
    rel = page.relative_to(out).as_posix()
    res = []
    for link in _LINK.findall(page.read_text("utf-8")):
        link = link.replace("&amp;", "&")
        parts = urlsplit(link)
        if parts.scheme or parts.netloc or link.startswith(("#", "mailto:", "javascript:")):
            continue
        path = unquote(parts.path)
        if path.startswith("/"):
            assert path.startswith(base_path), (page, link)
            target = path[len(base_path):]
        else:
            target = Path("/" + rel).parent.joinpath(path).as_posix()
        target = _normalise(target)
        if path.endswith("/") or path in ("", ".") or target == "":
            target = target.rstrip("/") + "/"
        if target.endswith("/"):
            target += "index.html"
        res.append((link, out / target.lstrip("/")))
    return res


def _normalise(path: str) -> str:
    out: list[str] = []
    for seg in path.split("/"):
        if seg == "..":
            assert out, f"link escapes the site: {path}"
            out.pop()
        elif seg != ".":
            out.append(seg)
    s = "/".join(out)
    return s + ("/" if path.endswith(("/", "/.")) and not s.endswith("/") else "")


def resolve(out: Path, page: Path, link: str) -> Path:
    """The file an internal link on `page` points at."""
    for href, target in internal_targets(out, page):
        if href == link:
            return target
    raise AssertionError(f"{link} not on {page}")
