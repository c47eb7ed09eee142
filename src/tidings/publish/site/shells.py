"""Item pages, cards and numbered listing pages filled into shells: the bundled item.html (_card.html, list.html:
SiteWriter.listing) rendered once per shape of page, with a mark in place of every per-page value, then each page's
values escaped and put in the marks' places (and its body, or a listing's cards, in the BODY slot as bytes).

An item page's shape is what its template tests besides truthiness: the number of crumbs, tags, story links, which
neighbours it has, whether its cover is shown (`ItemPages._item_html` decides that in Python). Its values are the
strings it prints. A value that is empty goes into the shell as it is (and into the shell's key: the template tests
it); values that are equal share one mark (the template compares the author with the source), so the template
takes the same branches with the marks as with the values. Only for the bundled templates: a theme's may do
anything with a value (truncate it, say), which no mark can stand for.
"""
from __future__ import annotations

import operator
import re
import secrets
from collections.abc import Callable, Hashable, Sequence
from typing import Any, NamedTuple, cast

from markupsafe import Markup

from . import render

SHELLS = 1024  # shells kept at most, per kind (a build's pages have a few dozen shapes)


# What the bundled templates read of the objects they are given, with marks for values (pages.ItemPages).
ITEM_VALUES = ("path", "canonical", "title", "description", "cover", "source", "iso", "time", "author", "original")


class Link(NamedTuple):
    """A neighbour (`newer`, `older`) on an item page."""

    href: Any
    title: Any


class StoryLink(NamedTuple):
    """stories.Related: another member of the item's story."""

    href: Any
    title: Any
    source: Any
    link: Any


class ItemView(NamedTuple):
    """`item` on an item page."""

    title: Any
    author: Any
    cover: Any


class Times(NamedTuple):
    """`s` on an item page."""

    iso: Any
    time: Any


class CardView(NamedTuple):
    """`s` in a card (render.Summary)."""

    href: Any
    title: Any
    cover: Any
    time: Any
    iso: Any
    label: Any
    node_href: Any
    excerpt: Any


card_values = operator.attrgetter(*CardView._fields)  # a Summary's values, in CardView's order


class Shell(NamedTuple):
    """A template's output as a bytes %-format (its own % doubled), and what fills it: the escaped values (and the
    body, last) in the order the template shows them."""

    format: bytes
    pick: Callable[[list[bytes]], tuple[bytes, ...]]


BODY = -1  # the slot the body's bytes fill (not escaped: it is markup)


class Shells:
    """Shells of one template, by key; `fill` makes a page from one.

    A new shell is checked against the page it is first made for: filled, it must give that page's bytes as the
    template renders them (`reference`), or it is never used (every page of its key is then rendered)."""

    def __init__(self, render_marked: Callable[[Callable[[int], Any], Hashable], str], *, check: bool = True) -> None:
        """`render_marked(mark, shape)`: the template rendered for a page of that shape, with mark(i) for value i
        (a mark, or the value itself when it is empty) and mark(BODY) for the body. Without `check` (tests of
        the shells themselves), a new shell is not compared with the page's `reference`."""
        self._render = render_marked
        self._check = check
        token = secrets.token_hex(8)
        self._format = f"\x00{token}-{{}}\x00"
        self._split = re.compile(f"\x00{token}-(-?[0-9]+)\x00").split
        self._shells: dict[Hashable, Shell | None] = {}

    def fill(self, shape: Hashable, values: Sequence[str], reference: Callable[[], bytes],
             body: bytes | None = None) -> bytes:
        """The page of `shape` with `values` (and `body`, for a template that shows one) in UTF-8; `reference()`
        renders it with the template."""
        # Each value by the index of the first equal one, and which of those is the empty string (-1: none).
        pattern = tuple(map(values.index, values))
        key = (shape, pattern, values.index("") if "" in values else -1)
        shell = self._shells.get(key, self)
        if shell is None:
            return reference()
        if shell is self:  # (no shell of this key yet)
            return self._make(key, shape, values, pattern, body, reference)
        return _filled(cast(Shell, shell), values, body)

    def _make(self, key: Hashable, shape: Hashable, values: Sequence[str], pattern: tuple[int, ...],
              body: bytes | None, reference: Callable[[], bytes]) -> bytes:
        def mark(i: int) -> Any:
            if i == BODY:
                return Markup(self._format.format(BODY))
            rep = pattern[i]
            return Markup(self._format.format(rep)) if values[rep] else ""

        pieces = self._split(self._render(mark, shape))
        slots = tuple(int(p) for p in pieces[1::2])
        shell: Shell | None = None
        if all(s == BODY or 0 <= s < len(values) for s in slots) and slots.count(BODY) == int(body is not None):
            text = "".join(p.replace("%", "%%") if k % 2 == 0 else "%b" for k, p in enumerate(pieces))
            # (itemgetter of one index returns the item, not a 1-tuple)
            pick = operator.itemgetter(*slots) if len(slots) > 1 else lambda enc: tuple(enc[i] for i in slots)
            shell = Shell(text.encode("utf-8"), pick)
        page = reference() if self._check or shell is None else _filled(shell, values, body)
        if shell is not None and _filled(shell, values, body) != page:
            shell = None
        if len(self._shells) >= SHELLS:  # the oldest goes
            del self._shells[next(iter(self._shells))]
        self._shells[key] = shell
        return page


def _filled(shell: Shell, values: Sequence[str], body: bytes | None) -> bytes:
    # The values escaped and encoded in one go, joined by a character escaping leaves alone (one by one if a
    # value holds it).
    enc = render.escape_text("\x00".join(values)).encode("utf-8").split(b"\x00")
    if len(enc) != len(values):
        enc = [render.escape_text(v).encode("utf-8") for v in values]
    if body is not None:
        enc.append(body)  # (enc[BODY])
    return shell.format % shell.pick(enc)
