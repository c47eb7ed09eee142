"""Atomic file writes shared by every publisher."""
from __future__ import annotations

import os
from pathlib import Path

TMP_PREFIX = ".tidings-tmp-"  # leading dot: Hexo and static servers ignore a leftover temp file


def write_atomic(path: Path, data: bytes, *, only_if_changed: bool = True) -> bool:
    """Write `data` to `path` via a temp file + rename. Returns False when the file already held it."""
    if only_if_changed:
        try:
            if path.stat().st_size == len(data) and path.read_bytes() == data:
                return False
        except (FileNotFoundError, NotADirectoryError):
            pass
    path.parent.mkdir(parents=True, exist_ok=True)
    # One writer per store (RunLock), so pid + name is unique and cheaper than mkstemp's retries.
    tmp = path.parent / f"{TMP_PREFIX}{os.getpid()}-{path.name}"
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            # No fsync: the rename alone makes a killed process leave either the old file or the new
            # one; syncing every post would cost more than the whole render.
        os.replace(tmp, path)
    except BaseException as e:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        if isinstance(e, OSError) and not e.filename:
            # ENOSPC/EROFS from write() carry no path: name the file the operator must look at.
            raise OSError(e.errno, e.strerror or str(e), str(path)) from e
        raise
    return True


def remove_stale_temp_files(root: Path) -> int:
    """Delete temp files a killed run left behind. Returns how many."""
    n = 0
    if not root.is_dir():
        return 0
    for p in root.rglob(TMP_PREFIX + "*"):
        try:
            p.unlink()
            n += 1
        except OSError:
            pass
    return n
