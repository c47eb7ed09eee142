"""Stable pagination for newest-first listings.

Pages are numbered from the oldest end: with n items and P per page, page k (1-based) holds the items
whose rank from the oldest is in [(k-1)P, kP). Pages 1 … F-1 (F = n // P full pages) are files at
`page/<k>/`; the listing's first page (`index.html`) shows the newest items: the full page F plus the
n mod P items above it (P to 2P-1 items; all n when n < 2P). So a new item changes the first page only,
and once every P items one new numbered page appears (and its older neighbour's "newer" link) — old
pages keep their URL and content, which is what makes incremental builds and caches work.
"""
from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass

from . import urls
from .render import Summary


@dataclass(slots=True)
class Page:
    base: str  # directory of the listing, e.g. '' or 'c/金融/'
    number: int  # 0 = the first page (index.html), else k of page/<k>/
    path: str
    newer: str | None  # path of the page with newer items
    older: str | None


class Paginator:
    def __init__(self, base: str, n: int, per_page: int):
        self.base, self.n, self.per = base, n, max(1, per_page)
        full = n // self.per
        self.numbered = max(0, full - 1)  # pages 1 … numbered are files
        self.first_size = n - self.numbered * self.per

    def page_of(self, rank: int) -> int:
        """Page number of the item at `rank` (0 = newest)."""
        if rank < self.first_size:
            return 0
        return max(1, (self.n - 1 - rank) // self.per + 1)

    def page(self, number: int) -> Page:
        first = self.base + "index.html"
        if number == 0:
            older = urls.page_path(self.base, self.numbered) if self.numbered else None
            return Page(self.base, 0, first, None, older)
        newer = first if number == self.numbered else urls.page_path(self.base, number + 1)
        older = urls.page_path(self.base, number - 1) if number > 1 else None
        return Page(self.base, number, urls.page_path(self.base, number), newer, older)

    def pages(self) -> list[Page]:
        return [self.page(0)] + [self.page(k) for k in range(self.numbered, 0, -1)]


class Listing:
    """Collects a newest-first stream of item summaries and hands out one page at a time, so a listing
    never holds more than two pages' worth of items."""

    def __init__(self, base: str, n: int, per_page: int, emit: Callable[[Page, list[Summary]], None]) -> None:
        self.pager = Paginator(base, n, per_page)
        self.emit = emit
        self.rank = 0
        self.current = 0
        self.until = 0  # page_of(rank) is `current` for every rank below this one
        self.buf: list[Summary] = []

    def add(self, summary: Summary) -> None:
        if self.rank >= self.until:  # (one comparison per item, not page_of: a listing gets every item of it)
            number = self.pager.page_of(self.rank)
            if number != self.current and self.buf:
                self.emit(self.pager.page(self.current), self.buf)
                self.buf = []
            self.current = number
            self.until = self._end(number)
        self.buf.append(summary)
        self.rank += 1

    def _end(self, number: int) -> int:
        """The first rank past page `number` (page 1 takes every rank past the others)."""
        pager = self.pager
        if number == 0:
            return pager.first_size
        return pager.n - (number - 1) * pager.per if number > 1 else sys.maxsize

    def close(self) -> None:
        if self.buf or self.rank == 0:
            self.emit(self.pager.page(self.current), self.buf)
        self.buf = []
