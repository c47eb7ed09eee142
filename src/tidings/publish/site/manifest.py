"""What a build wrote: `.tidings-manifest.json` in the output directory.

For every output file it keeps the sha256 of its content and the fingerprint of its inputs. A page whose
inputs' fingerprint is unchanged (and whose file is still there) is not even rendered; a rendered page
whose bytes are unchanged is not rewritten (its mtime stays). Files that the previous build wrote and
this one did not are deleted. Search shards are kept under "shards" with their own fingerprints.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import cast

from ..atomic import remove_stale_temp_files, replace_atomic, write_all

NAME = ".tidings-manifest.json"
BUILDING = ".tidings-building"  # present while a build runs (see Output)
BUNDLE_PREFIX = "_pagefind/"  # search bundles: tracked by shard, not by file
VERSION = 1

FileEntry = tuple[str, str]  # (sha256 of the content, fingerprint of the inputs)


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
        os.makedirs(os.path.dirname(path), exist_ok=True)
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

    def __init__(self, out_dir: str | os.PathLike[str]) -> None:
        self.prefix = os.path.join(os.fspath(out_dir), "")

    def put(self, path: str, data: bytes, old_digest: str | None) -> tuple[str, bool]:
        """(sha256 of data, whether the file was written): not written when the last build recorded the
        same digest and the file is still there."""
        digest = hashlib.sha256(data).hexdigest()
        target = self.prefix + path
        if old_digest == digest and os.path.isfile(target):
            return digest, False
        write_file(target, data)
        return digest, True


class Output:
    """The output directory, with the previous build's manifest and the one being made."""

    def __init__(self, out_dir: Path, fingerprint: str) -> None:
        self.dir = out_dir
        self.fingerprint = fingerprint  # of templates, static files, config and renderer code
        self.old_files: dict[str, FileEntry] = {}
        self.old_shards: dict[str, str] = {}
        self.old_fingerprint = ""
        # Entries are (sha256, fingerprint) tuples of str: the garbage collector stops tracking those, so a
        # 100,000-file manifest does not make every collection during the build walk it.
        self.files: dict[str, FileEntry] = {}
        self.shards: dict[str, str] = {}
        self.written: list[str] = []
        self.unchanged = 0
        self.deleted: list[str] = []
        self.writer = Writer(out_dir)
        self._prefix = self.writer.prefix
        try:
            data = json.loads((out_dir / NAME).read_text("utf-8"))
            if data.get("version") == VERSION:
                # Read back as written (JSON arrays of two str); not checked, like the rest of the file.
                self.old_files = {p: cast(FileEntry, tuple(v)) for p, v in data.get("files", {}).items()}
                self.old_shards = data.get("shards", {})
                self.old_fingerprint = data.get("fingerprint", "")
        except (OSError, ValueError):
            pass
        # A marker for the length of the build: if it is already there, the last build was killed
        # (SIGKILL, power) before saving its manifest, and may have left temp files and new pages the
        # manifest does not know. Those are cleaned up when this build completes (see save).
        self._marker = out_dir / BUILDING
        self.recovering = self._marker.exists()
        if self.recovering:
            remove_stale_temp_files(out_dir)
            self._since = self._marker.stat().st_mtime
        self._marker.touch()

    @property
    def same_inputs(self) -> bool:
        """Whether the last build was made from the same templates, static files, config and code."""
        return bool(self.old_files) and self.old_fingerprint == self.fingerprint

    def fresh(self, path: str, fp: str) -> bool:
        """True (and the file is kept as it is) when `path` was made from the same inputs and still exists."""
        old = self.old_files.get(path)
        if old is not None and old[1] == fp and os.path.isfile(self._prefix + path):
            self.files[path] = old
            self.unchanged += 1
            return True
        return False

    def write(self, path: str, data: bytes, fp: str = "") -> bool:
        """Write `data` unless the file already holds exactly it. Returns True when written."""
        old = self.old_files.get(path)
        digest, written = self.writer.put(path, data, old[0] if old else None)
        self.record(path, digest, fp, written)
        return written

    def old_digest(self, path: str) -> str | None:
        old = self.old_files.get(path)
        return old[0] if old else None

    def record(self, path: str, digest: str, fp: str, written: bool) -> None:
        """Note a file this build made (written, or found already holding the same bytes)."""
        self.files[path] = (digest, fp)
        if written:
            self.written.append(path)
        else:
            self.unchanged += 1

    def stale(self) -> list[str]:
        return [p for p in self.old_files if p not in self.files]

    def delete_stale(self) -> None:
        dirs: set[Path] = set()
        for p in self.stale():
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

    def save(self, complete: bool = True) -> None:
        """Record this build. An interrupted build also keeps the old entries, so that nothing it
        wrote or left behind is forgotten (the next build deletes what is no longer wanted)."""
        files = self.files if complete else {**self.old_files, **self.files}
        shards = self.shards if complete else {**self.old_shards, **self.shards}
        data = {"version": VERSION, "fingerprint": self.fingerprint, "files": files, "shards": shards}
        atomic_write(self.dir / NAME, json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))
        if complete:
            if self.recovering:
                self._remove_orphans()
            self._marker.unlink(missing_ok=True)

    def _remove_orphans(self) -> None:
        """After a killed build: delete files it created that no manifest records. Only files made since
        that build began (mtime), outside the search bundles: files the operator put there stay."""
        keep = {NAME, BUILDING}
        for p in self.dir.rglob("*"):
            rel = p.relative_to(self.dir).as_posix()
            if (rel in self.files or rel in keep or rel.startswith(BUNDLE_PREFIX) or not p.is_file()
                    or p.stat().st_mtime < self._since):
                continue
            p.unlink()
            self.deleted.append(rel)
