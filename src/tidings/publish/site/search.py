"""Full-text search with Pagefind, sharded so that no single run indexes more than ~SHARD_MAX pages.

Pagefind's time and memory grow with the pages one run indexes (about 0.2 MB of RSS per page of Chinese
news here), so item pages are split into shards: the days of one month, packed in date order into
groups of at most SHARD_MAX pages (a single day with more pages is one bigger shard). Each shard is
indexed by its own Pagefind run (`--glob` over its day directories) into `_pagefind/<yyyy-mm-dd>/`
(named after its first day), and the search page merges them in the browser with `mergeIndex`.
A shard whose pages did not change keeps its bundle.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import date
from importlib import metadata
from pathlib import Path

SHARD_MAX = 500
# Pagefind runs at once. One run keeps ~1.3 of 2 cores busy; two at a time are ~25% faster here, and
# at ≤ SHARD_MAX pages each stay near 120 MB, so the pair stays well inside the memory budget.
WORKERS = min(2, os.cpu_count() or 1)
BUNDLE_DIR = "_pagefind"
# Files of Pagefind's own UIs; the search page uses only the JS API (pagefind.js + worker + wasm).
_UI_FILES = ("pagefind-ui.js", "pagefind-ui.css", "pagefind-component-ui.js", "pagefind-component-ui.css",
             "pagefind-modular-ui.js", "pagefind-modular-ui.css", "pagefind-highlight.js")


@dataclass
class Shard:
    name: str
    days: list[date] = field(default_factory=list)
    pages: int = 0

    @property
    def glob(self) -> str:
        month = f"a/{self.days[0]:%Y/%m}/"
        if len(self.days) == 1:
            return f"{month}{self.days[0]:%d}/*.html"
        return month + "{" + ",".join(f"{d:%d}" for d in self.days) + "}/*.html"

    def day_dirs(self) -> list[str]:
        return [f"a/{d:%Y/%m/%d}/" for d in self.days]


def plan(days: dict[date, int], max_pages: int | None = None) -> list[Shard]:
    """Shards, newest first. Depends only on the per-day counts: adding items to the newest day
    changes only the newest shard."""
    max_pages = max_pages or SHARD_MAX
    shards: list[Shard] = []
    cur: Shard | None = None
    for d in sorted(days):
        n = days[d]
        if cur is None or (d.year, d.month) != (cur.days[0].year, cur.days[0].month) or cur.pages + n > max_pages:
            cur = Shard(f"{d:%Y-%m-%d}")
            shards.append(cur)
        cur.days.append(d)
        cur.pages += n
    return shards[::-1]


def executable() -> Path:
    try:
        from pagefind.service import get_executable  # pagefind[extended] ships the binary in a wheel
    except ImportError as e:  # pragma: no cover - a dependency of tidings
        raise RuntimeError("site.search needs the pagefind[extended] package") from e
    exe = get_executable()
    if exe is None:
        raise RuntimeError("the pagefind package found no pagefind binary")
    return Path(exe)


def version() -> str:
    for dist in ("pagefind_bin_extended", "pagefind_bin", "pagefind"):
        try:
            return f"{dist}-{metadata.version(dist)}"
        except metadata.PackageNotFoundError:
            continue
    return "unknown"


def shard_fingerprint(shard: Shard, files: dict[str, list], language: str) -> str:
    h = hashlib.sha256(f"{version()}\0{language}\0{shard.glob}".encode())
    prefixes = tuple(shard.day_dirs())
    for path in sorted(p for p in files if p.startswith(prefixes)):
        h.update(f"\0{path}\0{files[path][0]}".encode())
    return h.hexdigest()


def index_shard(out_dir: Path, shard: Shard, exe: Path | None = None) -> None:
    """Run Pagefind over one shard's pages into a fresh bundle, then swap it in."""
    bundles = out_dir / BUNDLE_DIR
    bundles.mkdir(exist_ok=True)
    tmp, final, old = bundles / f".tmp-{shard.name}", bundles / shard.name, bundles / f".old-{shard.name}"
    for d in (tmp, old):
        shutil.rmtree(d, ignore_errors=True)
    cmd = [str(exe or executable()), "--site", str(out_dir), "--glob", shard.glob, "--output-path", str(tmp),
           "--silent"]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0 or not (tmp / "pagefind-entry.json").is_file():
        shutil.rmtree(tmp, ignore_errors=True)
        raise RuntimeError(f"pagefind failed on shard {shard.name} (exit {proc.returncode}): "
                           f"{(proc.stderr or proc.stdout).strip()[-2000:]}")
    for name in _UI_FILES:
        (tmp / name).unlink(missing_ok=True)
    if final.exists():
        final.rename(old)
    tmp.rename(final)
    shutil.rmtree(old, ignore_errors=True)


def index_shards(out_dir: Path, shards: list[Shard], done=None) -> None:
    """Index `shards`, WORKERS at a time; `done(shard)` is called as each one is in place."""
    if not shards:
        return
    exe = executable()
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        futures = {pool.submit(index_shard, out_dir, shard, exe): shard for shard in shards}
        for future in as_completed(futures):
            future.result()
            if done:
                done(futures[future])


def remove_bundles(out_dir: Path, keep: Iterable[str]) -> list[str]:
    """Delete bundles of shards that no longer exist (and leftovers of interrupted runs)."""
    bundles = out_dir / BUNDLE_DIR
    keep = set(keep)
    removed = []
    if bundles.is_dir():
        for d in bundles.iterdir():
            if d.is_dir() and d.name not in keep:
                shutil.rmtree(d, ignore_errors=True)
                removed.append(d.name)
        if not keep:
            shutil.rmtree(bundles, ignore_errors=True)
    return removed
