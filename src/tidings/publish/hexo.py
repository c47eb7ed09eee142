"""Hexo posts from the store: one Markdown file per item, written only when its content changed.

The ledger in the store (`posts` table) remembers which file holds which item and a fingerprint of
what was written, so an unchanged item costs no rendering and no disk write.

Crash safety: a build updates the ledger in one transaction, but writes files as it goes. Before a
file is written its path is appended to a journal (`_posts/.tidings-journal`, ignored by Hexo as a
dotfile); the journal is removed once the ledger is committed. A build that finds a journal knows the
previous one was killed: it deletes the leftover temp files and every journaled file the committed
ledger does not own (written by the dead build), and re-renders the items whose journaled file it does
own (the dead build may have put another item's post there). Files the dead build removed are healed by
the ledger check that a post's file still exists. So after any kill, the next completed build leaves
exactly one file per published item and nothing else of ours.
"""
from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache, partial
from hashlib import sha256
from json.encoder import encode_basestring_ascii
from pathlib import Path
from stat import S_ISDIR, S_ISREG
from zoneinfo import ZoneInfo

from ..store import ItemKey, Post, Store, StoredItem
from .atomic import remove_stale_temp_files, replace_atomic, write_all
from .frontmatter import rfc2822_gmt, yaml_safe_text, yaml_scalar
from .paths import safe_component, unique_post_path

JOURNAL = ".tidings-journal"  # in _posts: paths written by a build whose ledger is not committed yet
FORMAT_VERSION = "2"  # bump when the rendering changes: every post is re-rendered once (rewritten if its bytes differ)
_BLANK_LINES = re.compile(r"\n[ \t\r\f\v]*(?=\n)")
_MORE = re.compile(r"<!--\s*more\s*-->", re.I)
# The same on a body read as its stored UTF-8 bytes (valid UTF-8, no surrogates), never decoded: `\s` and
# str.isspace take the code points below, spelt as UTF-8 (tests/publish/test_hexo_fast_paths.py checks them all).
_SPACE_UTF8 = (rb"(?:[\t-\r\x1c- ]|\xc2[\x85\xa0]|\xe1\x9a\x80|\xe2\x80[\x80-\x8a\xa8\xa9\xaf]|\xe2\x81\x9f"
               rb"|\xe3\x80\x80)")
_MORE_UTF8 = re.compile(rb"<!--" + _SPACE_UTF8 + rb"*more" + _SPACE_UTF8 + rb"*-->", re.I)  # re.I: ASCII only
_ALL_SPACE_UTF8 = re.compile(_SPACE_UTF8 + rb"*")
_BLANK_LINES_UTF8 = re.compile(_BLANK_LINES.pattern.encode())


@dataclass(slots=True)
class HexoReport:
    written: int = 0
    unchanged: int = 0
    deleted: int = 0
    paths: list[str] = field(default_factory=list)  # posts written this build, relative to _posts


def escape_braces(text: str) -> str:
    """Hexo runs post bodies through Nunjucks: braces become entities so `{{ }}`/`{% %}` stay text."""
    return text.replace("{", "&#123;").replace("}", "&#125;")


def _escape_braces_utf8(body: bytes) -> bytes:
    """escape_braces of UTF-8 bytes (a brace is one byte in UTF-8)."""
    return body.replace(b"{", b"&#123;").replace(b"}", b"&#125;")


def body_html(item: StoredItem, clean: bool, checked: bool = True) -> str:
    """The post's body. yaml_safe_text drops lone surrogates (the store never holds them, but a post must always
    encode); `checked=False` leaves that to a caller that encodes the post and renders it again if that fails."""
    safe = yaml_safe_text if checked else _same
    if not clean:
        return safe(item.content)
    html = safe(item.html)
    # A blank line ends Hexo's raw-HTML block: what follows would be rendered as Markdown (indented
    # markup as a visible code block). A source's `<!-- more -->` would cut the excerpt.
    if "<!" in html:  # one substring scan: the case-blind regex cannot skip ahead to a literal
        html = _MORE.sub("", html)
    html = _BLANK_LINES.sub("", html)
    return html.strip("\n") + "\n" if html and not html.isspace() else ""  # isspace: no stripped copy


def body_utf8(html: bytes) -> bytes:
    """body_html(item, clean=True).encode() of an item whose html is `html`, its stored UTF-8: the same steps on
    the bytes, so a post's body is neither decoded nor encoded again."""
    if b"!" in html and b"<!" in html:  # one memchr first: a cleaned body seldom holds a '!' (Chinese has '！')
        html = _MORE_UTF8.sub(b"", html)
    html = _BLANK_LINES_UTF8.sub(b"", html)
    return html.strip(b"\n") + b"\n" if html and not _ALL_SPACE_UTF8.fullmatch(html) else b""


def _same(text: str) -> str:
    return text


def render_seed(item: StoredItem, clean: bool, checked: bool = True) -> str:
    """Front matter and layout of conformance/seed/expected-post.md, byte for byte."""
    return _seed_head(item) + _wrap(escape_braces(body_html(item, clean, checked)))


def _seed_head(item: StoredItem, tz: ZoneInfo | None = None,  # (tz unused: the seed dates in GMT)
               categories: tuple[str, ...] | None = None) -> str:
    """categories: tuple(item.categories), when the caller has made it."""
    cover = _single_quoted(item.cover)
    # One f-string: a post's head was ~14 list items joined; its categories' lines come whole from a cache.
    return (f"\n---\ntitle: {_single_quoted(item.title)}\n"
            f"{_seed_categories(tuple(item.categories) if categories is None else categories)}headimg: {cover}\n"
            f"author: {_names(item.source)}\ncomments: false\ndate: {rfc2822_gmt(item.published)}\n"
            f"thumbnail: {cover}\n---\n\n")


@lru_cache(maxsize=1024)
def _seed_categories(categories: tuple[str, ...]) -> str:
    """The seed's `categories:` lines: a handful of category lists recur over thousands of posts."""
    return "categories: \n" + "".join(f" - {_names(c)}\n" for c in categories)


def _single_quoted(value: str) -> str:
    """yaml_scalar(yaml_safe_text(value), "single"). A value all printable (most titles and URLs) holds none of
    the characters that make it double-quoted (controls, line breaks, BOM, surrogates, non-characters) and no
    surrogate to drop: str.isprintable tells that in one C loop, cheaper than the two checks and the regex."""
    if value.isprintable():
        return "'" + value.replace("'", "''") + "'"
    return yaml_scalar(yaml_safe_text(value), "single")


@lru_cache(maxsize=4096)
def _names(value: str, prefer: str = "plain") -> str:
    """A category or source name as a scalar: a few names recur over thousands of posts."""
    return yaml_scalar(yaml_safe_text(value), prefer)


_WRAP = ("<div>   \n", "  \n</div>\n            ")  # around a post's body (conformance/seed/expected-post.md)
_WRAP_UTF8 = tuple(part.encode() for part in _WRAP)


def _wrap(body: str) -> str:
    return _WRAP[0] + body + _WRAP[1]


def _local(dt: datetime, tz: ZoneInfo) -> str:
    return dt.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S")


def render_hexo(item: StoredItem, clean: bool, tz: ZoneInfo, checked: bool = True) -> str:
    """Hexo's own conventions: local dates, id and original link, Nunjucks off."""
    return _hexo_head(item, tz) + _wrap(escape_braces(body_html(item, clean, checked)))


def _hexo_head(item: StoredItem, tz: ZoneInfo) -> str:
    def s(v: str, p: str = "plain") -> str:
        return yaml_scalar(yaml_safe_text(v), p)

    lines = ["---", f"title: {s(item.title)}", f"date: {_local(item.published, tz)}",
             f"updated: {_local(item.updated or item.published, tz)}", "categories:"]
    lines += [f"  - {_names(c)}" for c in item.categories]
    tags = item.all_tags
    lines += ["tags:" + ("" if tags else " []")] + [f"  - {s(t)}" for t in tags]
    lines += [f"author: {s(item.author or item.source)}", f"headimg: {s(item.cover)}",
              f"thumbnail: {s(item.cover)}", "comments: false", "disableNunjucks: true", f"id: {s(item.id)}",
              f"link: {s(item.link)}", f"story: {s(item.story or item.id)}", "---", ""]
    return "\n".join(lines) + "\n"


def _source_tag(key: str) -> str:
    return sha256(key.encode()).hexdigest()[:6]


class _Journal:
    """Append-only list of post paths a build is about to write (one JSON string per line).

    Entries are written on an O_APPEND descriptor before any of their post files is created, so they are in
    the kernel first: a SIGKILL cannot lose them (a power cut can; posts are not fsynced either).
    """

    def __init__(self, path: Path):
        self.path = path
        self.fd: int | None = None

    def pending(self) -> list[str]:
        try:
            lines = self.path.read_text(encoding="utf-8", errors="replace").splitlines()
        except FileNotFoundError:
            return []
        out = []
        for line in lines:
            try:
                rel = json.loads(line)
            except ValueError:
                continue  # a torn last line
            if isinstance(rel, str) and rel:
                out.append(rel)
        return list(dict.fromkeys(out))

    def exists(self) -> bool:
        return self.path.exists()

    def add(self, rel: str) -> None:
        self.add_all([rel])

    def add_all(self, rels: list[str]) -> None:
        if self.fd is None:
            self.fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        # encode_basestring_ascii: what json.dumps does with a str, without its per-call checks
        write_all(self.fd, "".join(encode_basestring_ascii(rel) + "\n" for rel in rels).encode("ascii"))

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def finish(self) -> None:
        """The ledger is committed: nothing journaled is in doubt any more."""
        self.close()
        try:
            self.path.unlink()
        except FileNotFoundError:
            pass


def _inside(posts_dir: Path, rel: str) -> bool:
    parts = Path(rel).parts
    return bool(parts) and not Path(rel).is_absolute() and ".." not in parts


def _recover(posts_dir: Path, journal: _Journal, ledger: dict[ItemKey, Post], owner: dict[str, ItemKey]) -> int:
    """Undo what a killed build left behind (see the module docstring). Returns files removed."""
    removed = remove_stale_temp_files(posts_dir)
    for rel in journal.pending():
        if not _inside(posts_dir, rel):
            continue
        me = owner.get(rel)
        if me is not None:
            ledger[me] = Post(rel, "")  # content in doubt: re-render; rewritten only if the bytes differ
        elif (posts_dir / rel).is_file():
            _remove(posts_dir, rel)
            removed += 1
    return removed


def build_posts(store: Store, hexo_dir: Path, *, preset: str = "seed", clean: bool = True,
                timezone: str = "UTC") -> HexoReport:
    posts_dir = Path(hexo_dir) / "source" / "_posts"
    posts_dir.mkdir(parents=True, exist_ok=True)
    root = str(posts_dir) + os.sep  # paths are joined as strings: pathlib costs more than the syscalls here
    tz = ZoneInfo(timezone)
    settings_utf8 = f"{FORMAT_VERSION}|{preset}|{clean}|{timezone}|".encode()
    ledger = store.posts()
    owner = {path: key for key, (path, _) in ledger.items()}
    report = HexoReport()
    live: set[ItemKey] = set()
    journal = _Journal(posts_dir / JOURNAL)
    if journal.exists():
        _recover(posts_dir, journal, ledger, owner)
    # Most items rendered (a first build, a new format): read the bodies with the rows, not one query each.
    bodies = len(ledger) * 2 < store.count_items()
    files = _Files(root, listed=bodies)
    out = _Writes(store, posts_dir, journal, files, report)

    def taken(rel: str, me: ItemKey) -> bool:
        # A directory of that name (a channel called "x.md" beside a post "x.md") is taken too.
        if owner.get(rel, me) != me:
            return True
        st = files.stat(rel)
        return st is not None and S_ISDIR(st.st_mode)

    try:
        with store.transaction():
            # Otherwise bodies are read only for the posts that are rendered: an unchanged store costs no HTML I/O.
            for item in store.iter_items(newest_first=False, bodies=bodies, content=not clean, html_utf8=clean):
                me = tuple.__new__(ItemKey, (item.source_key, item.id))  # not ItemKey's Python __new__
                live.add(me)
                categories = tuple(item.categories)
                fp = _fingerprint(settings_utf8, item.hash, categories)
                old = ledger.get(me)
                if old and old[1] == fp and os.path.isfile(root + old[0]):
                    report.unchanged += 1
                    continue
                if not bodies:
                    store.load_bodies(item, content=not clean, html_utf8=clean)
                if preset == "seed":
                    rel = unique_post_path(_dir_components(categories), item.title, item.id,
                                           partial(taken, me=me))
                else:
                    local = item.published.astimezone(tz)
                    rel = f"{local:%Y}/{local:%m}/{item.id}.md"
                    if taken(rel, me):
                        rel = f"{local:%Y}/{local:%m}/{item.id}-{_source_tag(item.source_key)}.md"
                        files.stat(rel)
                if old and old[0] != rel:
                    owner.pop(old[0], None)
                owner[rel] = me
                out.add(me, rel, _post_bytes(item, clean, preset, tz, categories), files.last, fp,
                        old[0] if old else None)
            out.flush()
            for me, (rel, _) in ledger.items():
                if me not in live:
                    _remove(posts_dir, rel)
                    store.delete_post(*me)
                    report.deleted += 1
    finally:
        journal.close()
    journal.finish()  # only reached when the transaction committed
    return report


def _post_bytes(item: StoredItem, clean: bool, preset: str, tz: ZoneInfo,
                categories: tuple[str, ...] | None = None) -> bytes:
    if clean and isinstance(item.html, bytes):  # read as its UTF-8 (build_posts): render_* of it, encoded
        body = _escape_braces_utf8(body_utf8(item.html))
        # its values all went through yaml_safe_text
        head = _seed_head(item, tz, categories) if preset == "seed" else _hexo_head(item, tz)
        return b"".join((head.encode("utf-8"), _WRAP_UTF8[0], body, _WRAP_UTF8[1]))
    render = partial(render_seed, item, clean) if preset == "seed" else partial(render_hexo, item, clean, tz)
    try:
        return render(checked=False).encode("utf-8")  # the store holds no lone surrogate: encoding is the check
    except UnicodeEncodeError:
        return render().encode("utf-8")


# Posts journaled in one write(2) before their files are written.
_BATCH = 64


class _Writes:
    """Rendered posts waiting to be written: their paths go into the journal together, then their files,
    each followed by the removal of the item's old path and its ledger row, as one post at a time would."""

    def __init__(self, store: Store, posts_dir: Path, journal: _Journal, files: _Files, report: HexoReport):
        self.store, self.posts_dir, self.journal, self.files, self.report = store, posts_dir, journal, files, report
        self.pending: list[tuple[ItemKey, str, bytes, os.stat_result | None, str, str | None]] = []

    def add(self, me: ItemKey, rel: str, data: bytes, st: os.stat_result | None, fp: str, old: str | None) -> None:
        self.pending.append((me, rel, data, st, fp, old))
        if len(self.pending) >= _BATCH:
            self.flush()

    def flush(self) -> None:
        if not self.pending:
            return
        # Journaled before any of the files exists: a kill from here on is undone by _recover.
        self.journal.add_all([p[1] for p in self.pending])
        pending, self.pending = self.pending, []
        root, report = self.files.root, self.report
        for _, rel, data, st, _, old in pending:
            if _write(root + rel, data, st):
                report.written += 1
                report.paths.append(rel)
                self.files.wrote(rel)
            else:
                report.unchanged += 1
            if old is not None and old != rel:
                _remove(self.posts_dir, old)
                self.files.removed()
        # The ledger rows in the order one post at a time wrote them (a path may pass from one item to another),
        # in one statement; they commit with the build's transaction, after every file, either way.
        self.store.set_posts([(me.source_key, me.id, rel, fp) for me, rel, _, _, fp, _ in pending])


class _Files:
    """What is at a post's path. A build that writes most posts lists each directory once instead of a stat per
    post: a path the listing does not hold (a new post) costs no system call. `last` is the latest answer,
    which the write of that path needs."""

    def __init__(self, root: str, listed: bool):
        self.root, self.listed = root, listed
        self.dirs: dict[str, dict[str, bool]] = {}  # directory (relative) → its entries' names → is a directory
        self.last: os.stat_result | None = None

    def stat(self, rel: str) -> os.stat_result | None:
        if self.listed:
            head, _, name = rel.rpartition("/")
            names = self.dirs.get(head)
            if names is None:
                names = self.dirs[head] = _listing(self.root + head)
            if name not in names:
                self.last = None
                return None
        self.last = _stat(self.root + rel)
        return self.last

    def wrote(self, rel: str) -> None:
        head, _, name = rel.rpartition("/")
        names = self.dirs.get(head)
        if names is not None:
            if not names and head:  # the directory may be new: its parents may hold a new directory
                for key in [k for k in self.dirs if k != head and (not k or head.startswith(k + "/"))]:
                    del self.dirs[key]
            names[name] = False

    def removed(self) -> None:
        self.dirs.clear()  # a removal may take empty directories with it: list again


def _listing(path: str) -> dict[str, bool]:
    try:
        with os.scandir(path) as entries:
            return {e.name: e.is_dir() for e in entries}
    except (FileNotFoundError, NotADirectoryError):
        return {}


def _fingerprint(settings_utf8: bytes, content_hash: str, categories: tuple[str, ...]) -> str:
    """What the ledger holds of a post: sha256 of f"{settings}|{content_hash}|{'/'.join(categories)}" in UTF-8
    (settings_utf8 ends in "|"), the categories' part encoded once per distinct list."""
    return sha256(b"".join((settings_utf8, content_hash.encode(), _fingerprint_tail(categories)))).hexdigest()[:32]


@lru_cache(maxsize=1024)
def _fingerprint_tail(categories: tuple[str, ...]) -> bytes:
    return ("|" + "/".join(categories)).encode()


@lru_cache(maxsize=1024)
def _dir_components(categories: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(safe_component(c) for c in categories)


def _stat(path: str) -> os.stat_result | None:
    try:
        return os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None


def _write(path: str, data: bytes, st: os.stat_result | None) -> bool:
    """write_atomic, given what `taken` found at `path`: nothing there (a new post) costs no more syscalls."""
    if st is not None and S_ISREG(st.st_mode) and st.st_size == len(data):
        try:
            with open(path, "rb") as f:
                if f.read() == data:
                    return False
        except (FileNotFoundError, NotADirectoryError):
            pass
    replace_atomic(path, data)
    return True


def _remove(posts_dir: Path, rel: str) -> None:
    path = posts_dir / rel
    try:
        path.unlink()
    except FileNotFoundError:
        return
    # Tidy the category directories the post leaves empty, never above _posts.
    parent = path.parent
    while parent != posts_dir and posts_dir in parent.parents:
        try:
            os.rmdir(parent)
        except OSError:
            break
        parent = parent.parent
