"""OPML 1.0 / 2.0 import and OPML 2.0 export of source lists.

Import: every `<outline>` with an `xmlUrl` is a feed; the folders (outlines without `xmlUrl`) above it give the
category and the source:

    folders above the feed   category    source      channel
    none                     ''          feed name   ''
    A                        A           feed name   ''
    A › B                    A           B           feed name
    A › B › C …              A           B           "C › … › feed name"

The feed name is its `text`, else its `title`. Outlines written by `export_opml` also carry
`tidings:category`, `tidings:source`, `tidings:channel` (authoritative when present), `tidings:route` (restores
`route` instead of `url`) and `tidings:limit`, in the namespace `urn:tidings:opml:1`.

Parsing is safe: no DTD loading, no entity expansion, no network.
"""
from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from email.utils import format_datetime

from lxml import etree

from .spec import ParseResult, SourceSpec, _Collector

TIDINGS_NS = "urn:tidings:opml:1"
_T = f"{{{TIDINGS_NS}}}"


def _parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
                           huge_tree=False, remove_comments=True, remove_pis=True)


def parse_opml(data: bytes | str, *, category: str | None = None) -> ParseResult:
    """Sources from an OPML document; returns `(specs, warnings)`. `category` replaces every feed's category."""
    out = _Collector()
    if isinstance(data, str):
        data = data.encode("utf-8")
    body_start = data.lstrip(b"\xef\xbb\xbf").lstrip()
    skipped_lines = data[: len(data) - len(body_start)].count(b"\n")  # an XML declaration must come first
    result = _parse(body_start, out, category)
    if skipped_lines:
        result.warnings[:] = [w._replace(line=w.line + skipped_lines) if w.line else w for w in result.warnings]
    return result


def _parse(data: bytes, out: _Collector, category: str | None) -> ParseResult:
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as e:
        out.warn(e.lineno or None, f"not well-formed XML: {e.msg}")
        return out.result()
    if root is None or etree.QName(root).localname.lower() != "opml":
        out.warn(getattr(root, "sourceline", None), "not an OPML document (the root element is not <opml>)")
        return out.result()
    body = next((c for c in root if isinstance(c.tag, str) and etree.QName(c).localname.lower() == "body"), None)
    if body is None:
        out.warn(root.sourceline, "OPML without <body>; nothing imported")
        return out.result()
    _walk(body, [], out, category)
    return out.result()


def _walk(parent: etree._Element, folders: list[str], out: _Collector, category: str | None) -> None:
    for el in parent:
        if not isinstance(el.tag, str) or etree.QName(el).localname.lower() != "outline":
            continue
        attrs = {k.lower(): (v or "").strip() for k, v in el.attrib.items() if not k.startswith("{")}
        name = " ".join((attrs.get("text") or attrs.get("title") or "").split())
        if "xmlurl" in attrs:
            _feed(el, attrs, name, folders, out, category)
            if len(el):
                _walk(el, folders + ([name] if name else []), out, category)
        else:
            if attrs.get("type", "").lower() == "include":
                out.warn(el.sourceline, f"OPML include {attrs.get('url', '')!r} is not followed; skipped")
                continue
            _walk(el, folders + ([name] if name else []), out, category)


def _feed(el: etree._Element, attrs: dict[str, str], name: str, folders: list[str], out: _Collector,
          category: str | None) -> None:
    url = attrs.get("xmlurl", "")
    line = el.sourceline
    if not url:
        out.warn(line, f"outline {name!r} has an empty xmlUrl; skipped")
        return
    route = (el.get(_T + "route") or "").strip() or None
    limit_raw = (el.get(_T + "limit") or "").strip()
    limit = None
    if limit_raw:
        if limit_raw.isdigit() and int(limit_raw) > 0:
            limit = int(limit_raw)
        else:
            out.warn(line, f"outline {name!r}: ignoring tidings:limit={limit_raw!r}")
    explicit = [el.get(_T + k) for k in ("category", "source", "channel")]
    if any(v is not None for v in explicit):
        cat, src, chan = ((v or "") for v in explicit)
    elif not folders:
        cat, src, chan = "", name, ""
    elif len(folders) == 1:
        cat, src, chan = folders[0], name, ""
    else:
        cat, src = folders[0], folders[1]
        chan = " › ".join([*folders[2:], name] if name else folders[2:])
    if category is not None:
        cat = category
    what = f"outline {name!r}" if name else f"outline {url}"
    out.add(line, what, category=cat, source=src, channel=chan,
            route=route, url=None if route else url, limit=limit)


def export_opml(specs: Iterable[SourceSpec], rsshub_base: str, title: str, *,
                created: datetime | None = None) -> bytes:
    """OPML 2.0 of `specs`, nested category › source › feed, that `parse_opml` reads back to the same specs.

    Folders are grouped in order of first appearance. Each feed outline has `type="rss"`, `text`/`title` (the
    channel, else the source, else the URL), `xmlUrl` (route sources resolved against `rsshub_base`) and the
    `tidings:*` attributes described in the module docstring.
    """
    nsmap = {"tidings": TIDINGS_NS}
    root = etree.Element("opml", version="2.0", nsmap=nsmap)
    head = etree.SubElement(root, "head")
    etree.SubElement(head, "title").text = title
    when = created or datetime.now(UTC)
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    etree.SubElement(head, "dateCreated").text = format_datetime(when.astimezone(UTC), usegmt=True)
    etree.SubElement(head, "docs").text = "http://opml.org/spec2.opml"
    body = etree.SubElement(root, "body")

    folders: dict[tuple[str, ...], etree._Element] = {}

    def folder(path: tuple[str, ...]) -> etree._Element:
        if not path:
            return body
        if path not in folders:
            el = etree.SubElement(folder(path[:-1]), "outline")
            el.set("text", path[-1])
            el.set("title", path[-1])
            folders[path] = el
        return folders[path]

    for spec in specs:
        path: tuple[str, ...] = ()
        if spec.category:
            path += (spec.category,)
        if spec.source and spec.channel:
            path += (spec.source,)
        el = etree.SubElement(folder(path), "outline")
        label = spec.channel or spec.source or spec.feed_url(rsshub_base)
        el.set("type", "rss")
        el.set("text", label)
        el.set("title", label)
        el.set("xmlUrl", spec.feed_url(rsshub_base))
        el.set(_T + "category", spec.category)
        el.set(_T + "source", spec.source)
        el.set(_T + "channel", spec.channel)
        if spec.route:
            el.set(_T + "route", spec.route)
        if spec.limit is not None:
            el.set(_T + "limit", str(spec.limit))
    data: bytes = etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
    return data
