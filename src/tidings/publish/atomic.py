"""Atomic file writes shared by every publisher."""
from __future__ import annotations

import os
from pathlib import Path

TMP_PREFIX = ".tidings-tmp-"  # leading dot: Hexo and static servers ignore a leftover temp file


_TMP_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)


def write_all(fd: int, data: bytes) -> None:
    done = os.write(fd, data) if data else 0  # one write(2) takes it all, but for a signal or a full disk
    if done < len(data):
        view = memoryview(data)[done:]
        while view:
            view = view[os.write(fd, view):]


def replace_atomic(path: str | os.PathLike[str], data: bytes) -> None:
    """Temp file beside `path`, then os.replace: a reader or a killed process never sees half a file.

    One writer per store (RunLock), so pid + name is a unique temp name, cheaper than mkstemp's retries.
    No fsync: the rename alone protects against a killed process; syncing every file would cost more
    than rendering it. Missing directories are made. An OSError from write() (disk full, read-only)
    carries no path, so it is raised again naming the file the operator must look at.
    """
    path = os.fspath(path)
    head, tmp = _temp_beside(path)
    try:
        try:
            fd = os.open(tmp, _TMP_FLAGS, 0o666)
        except FileNotFoundError:
            os.makedirs(head, exist_ok=True)
            fd = os.open(tmp, _TMP_FLAGS, 0o666)
        try:
            write_all(fd, data)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException as e:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        if isinstance(e, OSError) and not e.filename:
            raise OSError(e.errno, e.strerror or str(e), path) from e
        raise


def _temp_beside(path: str) -> tuple[str, str]:
    """(path's directory, the temp file's path in it): os.path.split's head and os.path.join(head, temp name) by one
    rpartition (the two cost ~14,000 instructions a post), the same file (a directory written with repeated slashes
    keeps them; tidings runs on POSIX, whose only separator is "/")."""
    head, sep, name = path.rpartition(os.sep)
    return head or sep, f"{head}{sep}{TMP_PREFIX}{os.getpid()}-{name}"


def write_atomic(path: Path, data: bytes, *, only_if_changed: bool = True) -> bool:
    """replace_atomic, unless the file already holds `data`. Returns False when it did."""
    if only_if_changed:
        try:
            if path.stat().st_size == len(data) and path.read_bytes() == data:
                return False
        except (FileNotFoundError, NotADirectoryError):
            pass
    replace_atomic(path, data)
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
