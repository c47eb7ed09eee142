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

NAME = ".tidings-manifest.json"
VERSION = 1


def atomic_write(path: Path, data: bytes, made_dirs: set[Path] | None = None) -> None:
    """Temp file in the same directory, then os.replace: readers never see half a file.
    `made_dirs` caches directories known to exist (one mkdir per directory, not per file)."""
    if made_dirs is None or path.parent not in made_dirs:
        path.parent.mkdir(parents=True, exist_ok=True)
        if made_dirs is not None:
            made_dirs.add(path.parent)
    tmp = path.parent / f".tidings-tmp-{os.getpid()}-{path.name}"
    try:
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


class Output:
    """The output directory, with the previous build's manifest and the one being made."""

    def __init__(self, out_dir: Path, fingerprint: str):
        self.dir = out_dir
        self.fingerprint = fingerprint  # of templates, static files, config and renderer code
        self.old_files: dict[str, list] = {}
        self.old_shards: dict[str, str] = {}
        self.old_fingerprint = ""
        self.files: dict[str, list] = {}
        self.shards: dict[str, str] = {}
        self.written: list[str] = []
        self.unchanged = 0
        self.deleted: list[str] = []
        self._dirs: set[Path] = set()
        self._prefix = str(out_dir) + os.sep
        try:
            data = json.loads((out_dir / NAME).read_text("utf-8"))
            if data.get("version") == VERSION:
                self.old_files = data.get("files", {})
                self.old_shards = data.get("shards", {})
                self.old_fingerprint = data.get("fingerprint", "")
        except (OSError, ValueError):
            pass

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
        digest = hashlib.sha256(data).hexdigest()
        self.files[path] = [digest, fp]
        old = self.old_files.get(path)
        target = self.dir / path
        if old is not None and old[0] == digest and target.is_file():
            self.unchanged += 1
            return False
        atomic_write(target, data, self._dirs)
        self.written.append(path)
        return True

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
