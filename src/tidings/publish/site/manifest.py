"""What a build wrote, as the store records it (Store.site_files): for every output file, the sha256 of its
content and the fingerprint of its inputs.

A page whose inputs' fingerprint is unchanged (and whose file is still there) is not even rendered; a rendered
page whose bytes are unchanged is not rewritten (its mtime stays). A full build reads the whole record and
deletes the files the previous build wrote and this one did not; an incremental build looks up only the pages
it considers and deletes only what it retires. Before version 5 of the store the record was
`.tidings-manifest.json` in the output directory: a first build reads it, and removes it once done.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from pathlib import Path
from typing import IO, TYPE_CHECKING

from ...store.base import SiteFile
from ..atomic import remove_stale_temp_files, replace_atomic, write_all

if TYPE_CHECKING:
    from ...store import Store

LEGACY = ".tidings-manifest.json"  # the record of builds before the store kept it
BUILDING = ".tidings-building"  # present while a build runs (see Output)
SPOOL_AT = 20_000  # records kept in memory before they go to the spool file
TOKEN = ".tidings-site"  # the site's id, also in its build record: a directory without it gets a full build
BUNDLE_PREFIX = "_pagefind/"  # search bundles: tracked by shard, not by file


_NEW = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)


# The site's own name for the shared writer (tests patch it here to kill a build mid-replace).
atomic_write = replace_atomic


def write_file(path: str, data: bytes) -> None:
    """Write `path`. A file that is not there yet is created in place (O_EXCL, one file-system operation
    instead of two): if the build dies halfway, the manifest does not list the half-written file, so the
    next build writes it again. An existing file is replaced atomically (atomic_write)."""
    try:
        fd = os.open(path, _NEW, 0o666)
    except FileNotFoundError:
        directory = os.path.dirname(path)
        try:  # usually only the last directory is missing (a listing's page/<k>/): one mkdir, not makedirs' walk
            os.mkdir(directory)
        except OSError:
            os.makedirs(directory, exist_ok=True)
        try:
            fd = os.open(path, _NEW, 0o666)
        except FileExistsError:
            return atomic_write(path, data)
    except FileExistsError:
        return atomic_write(path, data)
    try:
        write_all(fd, data)
    except BaseException:
        os.close(fd)
        try:
            os.unlink(path)
        except OSError:
            pass
        raise
    os.close(fd)


class Writer:
    """Writes files under one directory unless they already hold the same bytes."""

    def __init__(self, out_dir: str | os.PathLike[str], *, search: bool = True, article: bool = False) -> None:
        self.prefix = os.path.join(os.fspath(out_dir), "")
        # Without search no build reads the search digests (turning search on changes every fingerprint).
        self.search = search
        self.article = article  # search_digest's `article`: item pages from the bundled templates

    def put(self, path: str, data: bytes, old_digest: str | None) -> tuple[str, str, bool]:
        """(sha256 of data, search_digest or "" without search, whether the file was written): not written
        when the last build recorded the same digest and the file is still there."""
        digest = hashlib.sha256(data).hexdigest()
        target = self.prefix + path
        found = search_digest(path, data, self.article) if self.search else ""
        if old_digest == digest and os.path.isfile(target):
            return digest, found, False
        write_file(target, data)
        return digest, found, True


_SCRIPT = re.compile(rb"<script\b.*?</script\s*>", re.S | re.I)


# Where the bundled item.html's indexed element begins: Pagefind reads nothing of such a page outside it (no h1, img
# or data-pagefind-* attribute is outside it; tests/site/test_search_digest.py checks the template).
ARTICLE_START = b'<article class="post" data-pagefind-body>'


def search_digest(path: str, data: bytes, article: bool = False) -> str:
    """For an item page (what search indexes), the sha256 of what Pagefind reads of it: its <body> without
    scripts. The head (stylesheet links, versions of static files) is left out, so a change there re-indexes
    nothing. With `article` (a page of the bundled templates), only its `<article data-pagefind-body>` element
    counts, so a change to the neighbour links, story links, header or footer re-indexes nothing either: a new
    item changes its older neighbour's page, often in another shard. "" for other files."""
    if not (path.startswith("a/") and path.endswith(".html")):
        return ""
    start = data.find(ARTICLE_START) if article else -1
    end = data.rfind(b"</article>") if start >= 0 else -1
    if end > start:  # (the body's own articles end before the page's)
        body = data[start:end]
    else:
        start = data.find(b"<body")
        body = data[start:] if start >= 0 else data
    if b"<script" in body or b"<SCRIPT" in body:  # (the regex only where it has work: pages rarely have scripts)
        body = _SCRIPT.sub(b"", body)
    return hashlib.sha256(body).hexdigest()


class Output:
    """The output directory: the files the last build recorded and the ones this build makes.

    `complete_record`: read the whole record now (a full build, which must find every stale file); else
    each path is looked up when first asked for (an incremental build asks for few)."""

    def __init__(self, out_dir: Path, store: Store, site: str, *, complete_record: bool) -> None:
        self.dir = out_dir
        self.store, self.site = store, site
        self.complete_record = complete_record
        self._old: dict[str, SiteFile | None] = {}
        # Files made by this build whose record is not in the store yet: at most SPOOL_AT here, the rest in a
        # temporary file until `flush` (a build reads in a snapshot, so it cannot write the store meanwhile).
        # A million-file build keeps only their paths (`made`) in memory.
        self.files: dict[str, tuple[str, str, str]] = {}  # path -> its SiteFile's fields (plain: one a file)
        self.made: set[str] = set()
        self._spool: IO[str] | None = None
        self.written: list[str] = []
        self.unchanged = 0
        self.deleted: list[str] = []
        self._retired: set[str] = set()
        self._forgotten: list[str] = []  # stale files, deleted or found gone: their records go
        self.writer = Writer(out_dir)
        self._prefix = self.writer.prefix
        if complete_record:
            self._old.update(store.site_files(site))
            if not self._old:
                self._old.update(_legacy_record(out_dir))
        # A marker for the length of the build: if it is already there, the last build was killed
        # (SIGKILL, power) before recording what it wrote, and may have left temp files and new pages the
        # record does not know. Those are cleaned up when this build completes (see save).
        self._marker = out_dir / BUILDING
        self.recovering = self._marker.exists()
        if self.recovering:
            remove_stale_temp_files(out_dir)
            self._since = self._marker.stat().st_mtime
        self._marker.touch()

    def old(self, path: str) -> SiteFile | None:
        """What the last build recorded for `path` (None: nothing)."""
        try:
            return self._old[path]
        except KeyError:
            pass
        if self.complete_record:
            return None
        found = self.store.site_files(self.site, [path]).get(path)
        self._old[path] = found
        return found

    def fresh(self, path: str, fp: str) -> bool:
        """True (and the file is kept as it is) when `path` was made from the same inputs and still exists."""
        old = self.old(path)
        if old is not None and old[1] == fp and os.path.isfile(self._prefix + path):
            self.made.add(path)
            self.unchanged += 1
            return True
        return False

    def write(self, path: str, data: bytes, fp: str = "") -> bool:
        """Write `data` unless the file already holds exactly it. Returns True when written."""
        old = self.old(path)
        digest, found, written = self.writer.put(path, data, old[0] if old else None)
        self.record(path, digest, fp, written, found)
        return written

    def old_digest(self, path: str) -> str | None:
        old = self.old(path)
        return old[0] if old else None

    def record(self, path: str, digest: str, fp: str, written: bool, search: str = "") -> None:
        """Note a file this build made (written, or found already holding the same bytes)."""
        self.made.add(path)
        fields = (digest, fp, search)
        if self._old.get(path) != fields:
            self.files[path] = fields
            if len(self.files) >= SPOOL_AT:
                self._spill()
        if written:
            self.written.append(path)
        else:
            self.unchanged += 1

    def retire(self, path: str) -> None:
        """An incremental build's file that is no longer wanted (deleted at the end unless made again)."""
        self._retired.add(path)

    def stale(self) -> list[str]:
        if self.complete_record:
            return [p for p, v in self._old.items() if v is not None and p not in self.made]
        return sorted(p for p in self._retired if p not in self.made and self.old(p) is not None)

    def delete_stale(self) -> None:
        dirs: set[Path] = set()
        self._forgotten = self.stale()
        for p in self._forgotten:
            target = self.dir / p
            try:
                target.unlink()
                self.deleted.append(p)
            except FileNotFoundError:
                pass
            dirs.add(target.parent)
        # Remove directories that became empty, deepest first, never the output directory itself.
        for d in sorted(dirs, key=lambda d: len(d.parts), reverse=True):
            while d != self.dir and self.dir in d.parents:
                try:
                    d.rmdir()
                except OSError:
                    break
                d = d.parent

    def _spill(self) -> None:
        if self._spool is None:
            self._spool = tempfile.TemporaryFile("w+", encoding="utf-8", newline="\n")
        self._spool.writelines(f"{p}\t{d}\t{f}\t{s}\n" for p, (d, f, s) in self.files.items())
        self.files.clear()

    def flush(self) -> None:
        """Write the records of the files made so far to the store (outside the build's read snapshot). Each
        batch goes in sorted by path, the order of the store's key: ~40% less time than in the order made."""
        if self._spool is not None:
            self._spool.seek(0)
            batch: list[tuple[str, str, str, str]] = []  # SiteFileRow's fields
            for line in self._spool:
                p, d, f, s = line.rstrip("\n").split("\t")
                batch.append((p, d, f, s))
                if len(batch) >= SPOOL_AT:
                    self.store.save_site_files(self.site, sorted(batch), [])
                    batch = []
            self.store.save_site_files(self.site, sorted(batch), [])
            self._spool.close()
            self._spool = None
        self.store.save_site_files(self.site, sorted([(p, *v) for p, v in self.files.items()]), [])
        self.files.clear()

    def gone(self) -> set[str]:
        """Files this build found stale (deleted, or already missing): their records go when it is saved."""
        return set(self._forgotten)

    def save(self, complete: bool = True) -> None:
        """Record this build. An interrupted build only adds what it made, so that nothing it wrote or left
        behind is forgotten (the next build, a full one, deletes what is no longer wanted)."""
        self.flush()
        if complete:
            self.store.save_site_files(self.site, [], self._forgotten)
        if complete:
            if self.recovering:
                self._remove_orphans()
            (self.dir / LEGACY).unlink(missing_ok=True)
            self._marker.unlink(missing_ok=True)

    def _remove_orphans(self) -> None:
        """After a killed build: delete files it created that no record holds. Only files made since that
        build began (mtime), outside the search bundles: files the operator put there stay."""
        keep = {BUILDING, TOKEN}
        for p in self.dir.rglob("*"):
            rel = p.relative_to(self.dir).as_posix()
            if (rel in self.made or rel in keep or rel.startswith(BUNDLE_PREFIX) or not p.is_file()
                    or p.stat().st_mtime < self._since):
                continue
            p.unlink()
            self.deleted.append(rel)


def _legacy_record(out_dir: Path) -> dict[str, SiteFile | None]:
    """The files a build before store version 5 recorded in `.tidings-manifest.json` ({} if none)."""
    try:
        data = json.loads((out_dir / LEGACY).read_text("utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("version") != 1:
        return {}
    return {p: SiteFile(v[0], v[1], "") for p, v in data.get("files", {}).items()}
