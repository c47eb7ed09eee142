"""Full-text search with Pagefind, sharded so that no index holds more than ~SHARD_MAX pages.

Pagefind's memory grows with the pages one index holds (figures in docs/site.md, "Search"), so item pages
are split into shards: the days of one month, packed in date order into groups of at most SHARD_MAX pages;
a day with more pages is split by the first character of its pages' file names (item ids are hex). Each
shard becomes its own Pagefind bundle in `_pagefind/<name>/` (named after its first day, plus `-<character>`
for part of a day), and the search page merges them in the browser with `mergeIndex`. A shard whose pages
did not change keeps its bundle.

Indexing runs WORKERS `pagefind --service` processes at once, each indexing one shard after another
(NewIndex, AddDir with the shard's glob, WriteFiles, DeleteIndex — the same bundle the CLI writes for
`--glob`), so the Chinese dictionaries are loaded once per process instead of once per shard.
"""
from __future__ import annotations

import base64
import functools
import hashlib
import json
import os
import queue
import re
import shutil
import subprocess
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import IO, Any

from ...errors import SearchIndexError
from . import urls

SHARD_MAX = 350
# Pagefind processes at once: two use both cores and, with shards of ≤ SHARD_MAX pages, stay inside SPEC §8's
# 300 MB together with the build (figures in docs/site.md, "Search").
WORKERS = min(2, os.cpu_count() or 1)
BUNDLE_DIR = "_pagefind"
# Files of Pagefind's own UIs; the search page uses only the JS API (pagefind.js + worker + wasm).
_UI_FILES = ("pagefind-ui.js", "pagefind-ui.css", "pagefind-component-ui.js", "pagefind-component-ui.css",
             "pagefind-modular-ui.js", "pagefind-modular-ui.css", "pagefind-highlight.js")
# Pagefind's jemalloc: one arena, dirty pages returned soon, so a long-lived service does not keep every peak.
MALLOC_CONF = "narenas:1,dirty_decay_ms:1000,muzzy_decay_ms:0"
# A service's memory creeps up with every index it builds, so it is replaced once its RSS passes RESTART_MB
# (or after RESTART_SHARDS shards where RSS cannot be read); why 105 MB: docs/site.md, "Search".
RESTART_MB = 105
RESTART_SHARDS = 24
_PART_CHARS = re.compile(r"[0-9A-Za-z]+")


@dataclass
class Shard:
    name: str
    days: list[date] = field(default_factory=list)
    pages: int = 0
    part: str = ""  # one day split in parts: the first characters of this part's file names

    @property
    def glob(self) -> str:
        month = f"a/{self.days[0]:%Y/%m}/"
        if self.part:
            return f"{month}{self.days[0]:%d}/[{self.part}]*.html"
        if len(self.days) == 1:
            return f"{month}{self.days[0]:%d}/*.html"
        return month + "{" + ",".join(f"{d:%d}" for d in self.days) + "}/*.html"

    def day_dirs(self) -> list[str]:
        return [urls.item_dir(d) for d in self.days]

    def holds(self, path: str) -> bool:
        """Whether the page at `path` (site-relative) is one of this shard's: what `glob` matches."""
        d, _, name = path.rpartition("/")
        return d + "/" in self.day_dirs() and self.holds_name(name)

    def holds_name(self, name: str) -> bool:
        """Whether a page file named `name`, in one of this shard's day directories, is one of its pages."""
        return name.endswith(".html") and (not self.part or name[:1] in self.part)


def plan(days: dict[date, int], max_pages: int | None = None,
         heads: Counter[tuple[date, str]] | None = None) -> list[Shard]:
    """Shards, newest first. Depends only on the per-day counts (and, for days split in parts, the
    per-day counts of first characters `heads`: (date, character) -> pages): adding items to the newest
    day changes only the shards of that day."""
    max_pages = max_pages or SHARD_MAX
    by_day: dict[date, list[tuple[str, int]]] = {}
    for (d, c), k in (heads or {}).items():
        if days.get(d, 0) > max_pages:
            by_day.setdefault(d, []).append((c, k))
    shards: list[Shard] = []
    cur: Shard | None = None
    for d in sorted(days):
        n = days[d]
        if d in by_day:
            chars, first = sorted(by_day[d]), len(shards)
            if all(_PART_CHARS.fullmatch(c) for c, _ in chars) and sum(k for _, k in chars) == n:
                parts, seen, cur = -(-n // max_pages), 0, None  # parts of about n / parts pages each
                for c, k in chars:
                    if cur is None or (cur.pages + k > max_pages
                                       or (seen + k / 2) * parts / n >= len(shards) - first):
                        cur = Shard(f"{d:%Y-%m-%d}-{c}", [d])
                        shards.append(cur)
                    cur.part += c
                    cur.pages += k
                    seen += k
                cur = None
                continue
        if cur is None or (d.year, d.month) != (cur.days[0].year, cur.days[0].month) or cur.pages + n > max_pages:
            cur = Shard(f"{d:%Y-%m-%d}", [d])
            shards.append(cur)
        else:
            cur.days.append(d)
        cur.pages += n
    return shards[::-1]


def executable() -> Path:
    try:
        from pagefind.service import (
            get_executable,  # pagefind[extended] ships the binary in a wheel
        )
    except ImportError as e:  # pragma: no cover - a dependency of tidings
        raise SearchIndexError("site.search needs the pagefind[extended] package") from e
    exe = get_executable()
    if exe is None:
        raise SearchIndexError("the pagefind package found no pagefind binary")
    return Path(exe)


@functools.cache  # asked for every shard's fingerprint; the installed package does not change mid-build
def version() -> str:
    from importlib import metadata  # (~20 ms to import: not in every build)

    for dist in ("pagefind_bin_extended", "pagefind_bin", "pagefind"):
        try:
            return f"{dist}-{metadata.version(dist)}"
        except metadata.PackageNotFoundError:
            continue
    return "unknown"


def shard_fingerprint(shard: Shard, files: Mapping[str, Sequence[str]], language: str) -> str:
    """Of the shard's pages among `files` (path -> SiteFile), what Pagefind reads (manifest.search_digest)."""
    h = hashlib.sha256(f"{version()}\0service\0{language}\0{shard.glob}".encode())
    for path in sorted(p for p in files if shard.holds(p)):
        h.update(f"\0{path}\0{files[path][2]}".encode())
    return h.hexdigest()


class Service:
    """One `pagefind --service` process. Requests and responses are base64 JSON, each followed by ','."""

    def __init__(self, exe: Path):
        env = dict(os.environ)
        env.setdefault("_RJEM_MALLOC_CONF", MALLOC_CONF)
        self.err = tempfile.TemporaryFile()
        try:
            self.proc = subprocess.Popen([str(exe), "--service"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         stderr=self.err, env=env)
        except OSError as e:
            self.err.close()
            raise SearchIndexError(f"cannot run pagefind ({exe}): {e.strerror or e}") from e
        stdin, stdout = self.proc.stdin, self.proc.stdout
        assert stdin is not None and stdout is not None  # both are PIPEs
        self.stdin: IO[bytes] = stdin
        self.stdout: IO[bytes] = stdout
        self.next_id = 0
        self.buf = b""

    def call(self, payload: dict[str, Any]) -> dict[str, Any]:
        self.next_id += 1
        msg = json.dumps({"message_id": self.next_id, "payload": payload}).encode()
        try:
            self.stdin.write(base64.b64encode(msg) + b",")
            self.stdin.flush()
        except OSError as e:
            raise self.failed(f"pagefind service is gone ({e})") from e
        while True:
            end = self.buf.find(b",")
            if end >= 0:
                raw, self.buf = self.buf[:end], self.buf[end + 1:]
                resp = json.loads(base64.b64decode(raw))
                out = resp.get("payload") or {}
                if out.get("type") == "Error":
                    raise self.failed(f"pagefind: {out.get('message')}")
                if resp.get("message_id") == self.next_id:
                    return out
                continue
            chunk = os.read(self.stdout.fileno(), 1 << 16)
            if not chunk:
                raise self.failed("pagefind service exited")
            self.buf += chunk

    def rss_mb(self) -> float | None:
        try:
            with open(f"/proc/{self.proc.pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1]) / 1024
        except OSError:
            pass
        return None

    def failed(self, message: str) -> SearchIndexError:
        self.close()
        self.err.seek(0)
        detail = self.err.read().decode("utf-8", "replace").strip()[-2000:]
        return SearchIndexError(f"{message} (exit {self.proc.returncode}){': ' + detail if detail else ''}")

    def index(self, out_dir: Path, shard: Shard) -> None:
        """Index one shard's pages into a fresh bundle, then swap it in."""
        bundles = out_dir / BUNDLE_DIR
        bundles.mkdir(exist_ok=True)
        tmp, final, old = bundles / f".tmp-{shard.name}", bundles / shard.name, bundles / f".old-{shard.name}"
        for d in (tmp, old):
            shutil.rmtree(d, ignore_errors=True)
        index_id = self.call({"type": "NewIndex", "config": None})["index_id"]
        try:
            self.call({"type": "AddDir", "index_id": index_id, "path": str(out_dir.resolve()), "glob": shard.glob})
            self.call({"type": "WriteFiles", "index_id": index_id, "output_path": str(tmp.resolve())})
        finally:
            if self.proc.poll() is None:
                self.call({"type": "DeleteIndex", "index_id": index_id})
        if not (tmp / "pagefind-entry.json").is_file():
            shutil.rmtree(tmp, ignore_errors=True)
            raise SearchIndexError(f"pagefind wrote no index for shard {shard.name}")
        _wait_written(tmp, shard)
        for name in _UI_FILES:
            (tmp / name).unlink(missing_ok=True)
        if final.exists():
            final.rename(old)
        tmp.rename(final)
        shutil.rmtree(old, ignore_errors=True)

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.stdin.close()
            except OSError:
                pass
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


WRITE_WAIT = 10.0  # seconds Pagefind's last writes may take after it answered WriteFiles


def _wait_written(bundle: Path, shard: Shard) -> None:
    """Wait until every file of a new bundle has its content. Pagefind answers WriteFiles once each file is
    created, while tokio may still be writing into it (a file is never flushed): a bundle swapped in, or a
    service closed, at that moment kept an empty pagefind-entry.json."""
    deadline = time.monotonic() + WRITE_WAIT
    while True:
        empty = [p for p in bundle.rglob("*") if p.is_file() and p.stat().st_size == 0]
        if not empty:
            return
        if time.monotonic() > deadline:
            shutil.rmtree(bundle, ignore_errors=True)
            raise SearchIndexError(f"pagefind left {len(empty)} files empty in shard {shard.name} "
                                   f"(e.g. {empty[0].name}) after {WRITE_WAIT:.0f} s")
        time.sleep(0.005)


def index_shards(out_dir: Path, shards: list[Shard], done: Callable[[Shard], None] | None = None) -> None:
    """Index `shards`, WORKERS Pagefind services at a time; `done(shard)` is called (in this thread) as each
    one is in place. The first failure stops the others and is raised."""
    if not shards:
        return
    exe = executable()
    todo: queue.SimpleQueue[Shard] = queue.SimpleQueue()
    # Biggest first (newest first among equals): the last shards are small ones, so both services finish at
    # about the same time instead of one indexing a full shard alone at the end.
    for shard in sorted(shards, key=lambda s: -s.pages):
        todo.put(shard)
    finished: queue.SimpleQueue[Shard | BaseException | None] = queue.SimpleQueue()
    stop = threading.Event()

    def work() -> None:
        service, served = None, 0
        try:
            while not stop.is_set():
                try:
                    shard = todo.get_nowait()
                except queue.Empty:
                    break
                if service is None:
                    service, served = Service(exe), 0
                service.index(out_dir, shard)
                finished.put(shard)
                served += 1
                rss = service.rss_mb()
                if served >= RESTART_SHARDS if rss is None else rss > RESTART_MB:
                    service.close()
                    service = None
        except BaseException as e:  # noqa: BLE001 - handed to the caller
            stop.set()
            finished.put(e)
        finally:
            if service is not None:
                service.close()
            finished.put(None)

    threads = [threading.Thread(target=work, name="tidings-pagefind", daemon=True)
               for _ in range(min(WORKERS, len(shards)))]
    for t in threads:
        t.start()
    running, error = len(threads), None
    try:
        while running:
            item = finished.get()
            if item is None:
                running -= 1
            elif isinstance(item, BaseException):
                error = error or item
            elif done:
                done(item)
    finally:
        stop.set()
        for t in threads:
            t.join()
    if error is not None:
        raise error


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
