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
from pathlib import Path
from stat import S_ISDIR, S_ISREG
from zoneinfo import ZoneInfo

from ..store import ItemKey, Post, Store, StoredItem
from .atomic import remove_stale_temp_files, replace_atomic
from .frontmatter import rfc2822_gmt, yaml_safe_text, yaml_scalar
from .paths import safe_component, unique_post_path

JOURNAL = ".tidings-journal"  # in _posts: paths written by a build whose ledger is not committed yet
FORMAT_VERSION = "2"  # bump when the rendering changes: every post is re-rendered once (rewritten if its bytes differ)
_BLANK_LINES = re.compile(r"\n[ \t\r\f\v]*(?=\n)")
_MORE = re.compile(r"<!--\s*more\s*-->", re.I)


@dataclass(slots=True)
class HexoReport:
    written: int = 0
    unchanged: int = 0
    deleted: int = 0
    paths: list[str] = field(default_factory=list)  # posts written this build, relative to _posts


def escape_braces(text: str) -> str:
    """Hexo runs post bodies through Nunjucks: braces become entities so `{{ }}`/`{% %}` stay text."""
    return text.replace("{", "&#123;").replace("}", "&#125;")


def body_html(item: StoredItem, clean: bool) -> str:
    # yaml_safe_text drops lone surrogates (the store never holds them, but a post must always encode).
    if not clean:
        return yaml_safe_text(item.content)
    html = yaml_safe_text(item.html)
    # A blank line ends Hexo's raw-HTML block: what follows would be rendered as Markdown (indented
    # markup as a visible code block). A source's `<!-- more -->` would cut the excerpt.
    html = _MORE.sub("", html)
    html = _BLANK_LINES.sub("", html)
    return html.strip("\n") + "\n" if html.strip() else ""


def render_seed(item: StoredItem, clean: bool) -> str:
    """Front matter and layout of conformance/seed/expected-post.md, byte for byte."""
    cover = yaml_scalar(yaml_safe_text(item.cover), "single")
    lines = ["", "---", f"title: {yaml_scalar(yaml_safe_text(item.title), 'single')}", "categories: "]
    lines += [f" - {_names(c)}" for c in item.categories]
    lines += [
        f"headimg: {cover}",
        f"author: {_names(item.source)}",
        "comments: false",
        f"date: {rfc2822_gmt(item.published)}",
        f"thumbnail: {cover}",
        "---",
        "",
    ]
    return "\n".join(lines) + "\n" + _wrap(escape_braces(body_html(item, clean)))


@lru_cache(maxsize=4096)
def _names(value: str, prefer: str = "plain") -> str:
    """A category or source name as a scalar: a few names recur over thousands of posts."""
    return yaml_scalar(yaml_safe_text(value), prefer)


def _wrap(body: str) -> str:
    return f"<div>   \n{body}  \n</div>\n            "


def _local(dt: datetime, tz: ZoneInfo) -> str:
    return dt.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S")


def render_hexo(item: StoredItem, clean: bool, tz: ZoneInfo) -> str:
    """Hexo's own conventions: local dates, id and original link, Nunjucks off."""
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
    return "\n".join(lines) + "\n" + _wrap(escape_braces(body_html(item, clean)))


def _source_tag(key: str) -> str:
    return sha256(key.encode()).hexdigest()[:6]


class _Journal:
    """Append-only list of post paths a build is about to write (one JSON string per line).

    Each entry is one write(2) on an O_APPEND descriptor, so it is in the kernel before the post file
    is created: a SIGKILL cannot lose it (a power cut can; posts are not fsynced either).
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
        if self.fd is None:
            self.fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        os.write(self.fd, (json.dumps(rel) + "\n").encode("ascii"))

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
    settings = f"{FORMAT_VERSION}|{preset}|{clean}|{timezone}"
    ledger = store.posts()
    owner = {path: key for key, (path, _) in ledger.items()}
    report = HexoReport()
    live: set[ItemKey] = set()
    journal = _Journal(posts_dir / JOURNAL)
    if journal.exists():
        _recover(posts_dir, journal, ledger, owner)
    # Most items rendered (a first build, a new format): read the bodies with the rows, not one query each.
    bodies = len(ledger) * 2 < store.count_items()
    # What is at the path last asked about: `taken` needs it, and so does the write that follows.
    seen: list[os.stat_result | None] = [None]

    def taken(rel: str, me: ItemKey) -> bool:
        # A directory of that name (a channel called "x.md" beside a post "x.md") is taken too.
        if owner.get(rel, me) != me:
            return True
        st = seen[0] = _stat(root + rel)
        return st is not None and S_ISDIR(st.st_mode)

    try:
        with store.transaction():
            # Otherwise bodies are read only for the posts that are rendered: an unchanged store costs no HTML I/O.
            for item in store.iter_items(newest_first=False, bodies=bodies, content=not clean):
                me = ItemKey(item.source_key, item.id)
                live.add(me)
                categories = item.categories
                fp = sha256(f"{settings}|{item.hash}|{'/'.join(categories)}".encode()).hexdigest()[:32]
                old = ledger.get(me)
                if old and old[1] == fp and os.path.isfile(root + old[0]):
                    report.unchanged += 1
                    continue
                if not bodies:
                    store.load_bodies(item, content=not clean)
                if preset == "seed":
                    rel = unique_post_path(_dir_components(tuple(categories)), item.title, item.id,
                                           partial(taken, me=me))
                    text = render_seed(item, clean)
                else:
                    local = item.published.astimezone(tz)
                    rel = f"{local:%Y}/{local:%m}/{item.id}.md"
                    if taken(rel, me):
                        rel = f"{local:%Y}/{local:%m}/{item.id}-{_source_tag(item.source_key)}.md"
                        seen[0] = _stat(root + rel)
                    text = render_hexo(item, clean, tz)
                journal.add(rel)  # before the file exists: a kill from here on is undone by _recover
                if _write(root + rel, text.encode("utf-8"), seen[0]):
                    report.written += 1
                    report.paths.append(rel)
                else:
                    report.unchanged += 1
                if old and old[0] != rel:
                    _remove(posts_dir, old[0])
                    owner.pop(old[0], None)
                owner[rel] = me
                store.set_post(item.source_key, item.id, rel, fp)
            for me, (rel, _) in ledger.items():
                if me not in live:
                    _remove(posts_dir, rel)
                    store.delete_post(*me)
                    report.deleted += 1
    finally:
        journal.close()
    journal.finish()  # only reached when the transaction committed
    return report


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
