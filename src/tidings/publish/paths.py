"""Safe file-system path components for Hexo posts (SPEC section 4).

A component must be valid on Linux, macOS and Windows, must not be skipped
by Hexo (Hexo ignores any path component starting with ``.`` or ``_``) and
must survive as a piece of a Hexo permalink (``:title`` is the post's path
under ``_posts``), so ``#``, ``%`` and ``?`` are removed as well as the
characters Windows forbids.  See ``docs/hexo-output.md``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from functools import lru_cache

__all__ = ["safe_component", "unique_post_path"]

# / \ : * ? " < > | are forbidden on Windows (/ everywhere); # % ? break URLs.
_FORBIDDEN = '/\\:*?"<>|#%'
_INVISIBLE = (
    "\u200b\u200c\u200d\u200e\u200f"  # zero-width space/non-joiner/joiner, LRM, RLM
    "\u2060\ufeff"  # word joiner, BOM / zero-width no-break space
    "\u202a\u202b\u202c\u202d\u202e"  # bidi embeddings and overrides
    "\u2066\u2067\u2068\u2069"  # bidi isolates
    "\ufffe\uffff"  # noncharacters
)
_DROP = re.compile(
    "["
    + re.escape(_FORBIDDEN + _INVISIBLE)
    + "\x00-\x1f\x7f-\x9f"  # C0 controls, DEL, C1 controls
    + "\ud800-\udfff"  # lone surrogates cannot be encoded
    + "]"
)
_WHITESPACE = re.compile(r"\s+")  # str patterns: Unicode whitespace incl. \n \t U+3000
# With str.isprintable() (no controls, format or unassigned characters, surrogates, or whitespace but
# " "), the substitutions change a name only if it holds one of these or two spaces.
_FORBIDDEN_CHARACTER = re.compile("[" + re.escape(_FORBIDDEN) + "]")
_RESERVED = frozenset(
    ["CON", "PRN", "AUX", "NUL"]
    + [f"{p}{d}" for p in ("COM", "LPT") for d in "123456789\u00b9\u00b2\u00b3"]
)


def _truncate_utf8(s: str, max_bytes: int) -> str:
    b = s.encode("utf-8")
    if len(b) <= max_bytes:
        return s
    return b[:max_bytes].decode("utf-8", errors="ignore")


def _strip(s: str) -> str:
    # Trailing dots/spaces are stripped by Windows; leading "." and "_"
    # make Hexo skip the file.  Loop: "_ .x" -> "x".
    prev = None
    while s != prev:
        prev = s
        s = s.strip(" ").rstrip(".").lstrip("._")
    return s


def _unreserve(s: str) -> str:
    base, dot, rest = s.partition(".")
    if base.rstrip(" ").upper() in _RESERVED:
        return base + "_" + dot + rest
    return s


def safe_component(name: str, max_bytes: int = 200, fallback: str = "untitled") -> str:
    """Turn ``name`` into one path component that is safe everywhere.

    - whitespace runs (spaces, tabs, newlines, U+3000...) become one space;
    - removed: ``/ \\ : * ? " < > | # %``, C0/C1 controls and NUL,
      zero-width and bidi control characters, lone surrogates;
    - stripped: leading/trailing spaces and dots, leading ``_`` (``-`` is kept);
    - Windows reserved device names (``CON``, ``nul.txt``, ``COM1``...) get
      ``_`` appended to their base name;
    - at most ``max_bytes`` bytes of UTF-8, never cutting a character;
    - nothing left (or ``.``/``..``) -> ``fallback``.
    """
    if max_bytes < 8:
        raise ValueError("max_bytes must be at least 8")
    return _clean(name, max_bytes) or _clean(fallback, max_bytes) or "untitled"


# The characters whose upper case begins with the first letter of a reserved name (C, P, A, N, L): only a name that
# begins with one of them can be reserved (tests/publish/test_paths_fast_paths.py finds them all).
_RESERVED_FIRST = frozenset("ACLNPaclnp\u1e9a")


def _clean(name: str, max_bytes: int) -> str:
    # Most titles need nothing done: one search instead of three substitutions and two strip loops.
    # A name of at most a quarter of max_bytes characters is within max_bytes of UTF-8 without encoding it.
    if (name[:1] not in " ._" and name[-1:] not in " ." and name.isprintable() and "  " not in name
            and not _FORBIDDEN_CHARACTER.search(name)
            and (len(name) * 4 <= max_bytes or len(name.encode("utf-8")) <= max_bytes)
            and (name[0] not in _RESERVED_FIRST or _unreserve(name) is name)):
        return name
    return _clean_reference(name, max_bytes)


def _clean_reference(name: str, max_bytes: int) -> str:
    """Every step of the cleaning, the reference _clean's shortcut is tested against."""
    s = _WHITESPACE.sub(" ", name)
    s = _DROP.sub("", s)
    s = _WHITESPACE.sub(" ", s)
    s = _unreserve(_strip(s))
    # Truncation cannot create a reserved name (they are < 8 bytes), but it
    # can expose a trailing space or dot.
    s = _strip(_truncate_utf8(s, max_bytes))
    return "" if s in (".", "..") else s


_EXT = ".md"


def unique_post_path(
    components: Sequence[str],
    stem: str,
    item_id: str,
    taken: Callable[[str], bool],
) -> str:
    """Relative POSIX path ``<c1>/<c2>/.../<stem>.md`` for one post.

    Every directory component and the stem go through :func:`safe_component`;
    the file name (stem plus ``.md``) is at most 200 bytes.  If
    ``taken(path)`` reports that the path belongs to another item, the item
    id is appended: ``<stem>-<item_id>.md`` (stem shortened to keep the file
    name within 200 bytes); in the pathological case that this too is taken,
    ``-2``, ``-3``... follow the id.  ``taken`` must answer for *other* items
    only (the item's own current path is not "taken").  An empty or unusable
    stem falls back to the item id.
    """
    prefix = _dirs(tuple(components))
    limit = 200 - len(_EXT)
    base = _clean(stem, limit)
    safe_id = ""
    if not base:
        safe_id = _safe_id(item_id)
        base = safe_component(stem, max_bytes=limit, fallback=safe_id)

    def join(name: str) -> str:
        return prefix + name + _EXT

    path = join(base)
    if not taken(path):
        return path
    safe_id = safe_id or _safe_id(item_id)
    for n in range(1, 1000):
        suffix = f"-{safe_id}" if n == 1 else f"-{safe_id}-{n}"
        head = safe_component(stem, max_bytes=limit - len(suffix.encode("utf-8")), fallback=safe_id)
        path = join(head + suffix)
        if not taken(path):
            return path
    raise RuntimeError(f"no free post path for item {item_id!r} under {prefix.rstrip('/')!r}")


def _safe_id(item_id: str) -> str:
    return safe_component(item_id, max_bytes=64, fallback="item")


@lru_cache(maxsize=1024)
def _dirs(components: tuple[str, ...]) -> str:
    """``c1/c2/`` for a post's directories: a handful of category lists recur over thousands of posts."""
    return "".join(safe_component(c) + "/" for c in components)
