"""replace_atomic's temp file beside the post (_temp_beside: one rpartition) is the file os.path.split and
os.path.join name, in the directory os.path.split names; and replace_atomic still writes through it."""
from __future__ import annotations

import os
import re
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from tidings.publish import atomic

paths = st.lists(st.sampled_from(["/", "a", "b", ".", "..", "正", " "]), min_size=1, max_size=12).map("".join)


def _same_file(path: str) -> str:
    # POSIX leaves a path's two leading slashes to the system: on Linux "//a" is "/a"
    return re.sub("^/+", "/", os.path.normpath(path)) if path else ""


@given(paths)
def test_temp_beside_names_the_files_split_and_join_name(path):
    head, tmp = atomic._temp_beside(path)
    split_head, name = os.path.split(path)
    joined = os.path.join(split_head, f"{atomic.TMP_PREFIX}{os.getpid()}-{name}")
    assert _same_file(tmp) == _same_file(joined)
    assert _same_file(head) == _same_file(split_head)
    assert tmp.startswith(head) and tmp.endswith(f"{atomic.TMP_PREFIX}{os.getpid()}-{name}")


def test_replace_atomic_writes_through_the_temp_file_beside_the_post(tmp_path: Path):
    target = tmp_path / "新" / "目录" / "a b.md"
    atomic.replace_atomic(target, b"one")  # its directories made
    atomic.replace_atomic(str(target), b"two")
    assert target.read_bytes() == b"two"
    assert sorted(p.name for p in target.parent.iterdir()) == ["a b.md"]  # no temp file left


@given(st.binary(max_size=40), st.integers(min_value=1, max_value=7))
def test_write_all_writes_everything_whatever_each_write_takes(data, most):
    """write_all's single write(2) and the loop after a short one: all of the data, in order, whatever each write
    takes (a signal or a full disk makes a short write)."""
    written: list[bytes] = []

    def short_write(fd: int, chunk) -> int:
        taken = bytes(chunk[:most])
        written.append(taken)
        return len(taken)

    real = os.write
    os.write = short_write
    try:
        atomic.write_all(3, data)
    finally:
        os.write = real
    assert b"".join(written) == data and all(written)
