"""The base an item's links resolve against, taken once per document when no element has an xml:base
(parse._Context.base_of), equals each element's own `.base`, on the feedparser corpus and generated feeds."""
from __future__ import annotations

import pytest
from conftest import CORPUS
from util import entry_fields as fields

from tidings import parse
from tidings.model import Source
from tidings.parse import ParseError, parse_feed

SOURCE = Source(url="https://feeds.example/rss", category="c", source="s", channel="ch")
ITEM = ('<item><title>t{n}</title><link>{link}</link><guid>g{n}</guid><enclosure url="{link}.png" type="image/png"/>'
        '<description>&lt;img src="i{n}.jpg"&gt;</description></item>')
GENERATED = [
    f'<rss><channel><link>{chan}</link>{"".join(ITEM.format(n=n, link=link) for n in range(3))}</channel></rss>'.encode()
    for chan in ("https://a.example/", "", "rel/")
    for link in ("https://b.example/x", "/abs", "rel/x", "../up", "")
] + [
    b'<feed xmlns="http://www.w3.org/2005/Atom"><entry><id>1</id><link href="x/y"/><content type="html">'
    b'&lt;img src="z.png"&gt;</content></entry></feed>',
]


def outcome(body: bytes, url: str) -> object:
    try:
        feed = parse_feed(body, SOURCE, url=url)
    except ParseError as e:
        return str(e)
    return feed.link, [fields(e) for e in feed.entries]


def bodies() -> list[bytes]:
    found = list(GENERATED)
    if CORPUS.is_dir():
        found += [p.read_bytes() for p in sorted(CORPUS.rglob("*")) if p.is_file()]
    return found


@pytest.mark.parametrize("url", ["https://docs.example/feeds/main.xml", ""])
def test_one_base_per_document_is_every_elements_base(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    every = bodies()
    fast = [outcome(b, url) for b in every]
    taken = 0
    for b in every:  # how many documents the shortcut served: those without any xml:base
        taken += b"<" in b and b"xml:base" not in b
    monkeypatch.setattr(parse, "_HAS_XML_BASE", lambda root: True)  # each element's own base, as before
    for body, got in zip(every, fast):
        assert got == outcome(body, url), body[:300]
    assert taken > len(GENERATED)
