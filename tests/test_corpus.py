"""feedparser's own test corpus, with feedparser as the oracle for the fields tidings keeps.

Every feed feedparser reads, tidings reads too (CDF, a 1997 format, aside), to the same entries: title,
link, guid, date, author, content, categories and cover. Where tidings deliberately differs, the file is
listed in DIFFERENCES with the reason; a feed that parses to zero items while feedparser finds some fails.
"""
from __future__ import annotations

import calendar
import html
import re
import warnings
from datetime import UTC, datetime, timedelta

import pytest
from conftest import CORPUS, need_corpus
from lxml import html as lxml_html

from tidings.model import Entry, Source
from tidings.parse import ParseError, parse_feed

feedparser = pytest.importorskip("feedparser")

SUFFIXES = (".xml", ".json", ".rdf", ".atom")
BASE_URL = "http://127.0.0.1:8097/tests/"  # where feedparser's own harness serves the corpus


def corpus_files() -> list[str]:
    if not CORPUS.is_dir():
        return ["(corpus missing)"]
    return sorted(str(p.relative_to(CORPUS)) for p in CORPUS.rglob("*")
                  if p.is_file() and p.suffix in SUFFIXES and "/cdf/" not in p.as_posix())


def harness_headers(data: bytes) -> dict[str, str]:
    """The HTTP headers a corpus file asks for in its leading comment (`Header: Content-type: …`)."""
    m = re.search(rb"<!--(.*?)-->", data[:4000], re.S)
    headers: dict[str, str] = {}
    for line in (m.group(1).splitlines() if m else []):
        line = line.strip()
        if line.startswith(b"Header:"):
            key, _, value = line[7:].strip().partition(b":")
            headers[key.strip().decode().lower()] = value.strip().decode("latin-1")
    return headers


_SPACE = re.compile(r"\s+")


def text_of(markup: str) -> str:
    """What a reader sees of some HTML: its text without scripts and styles, whitespace folded."""
    if not markup.strip():
        return ""
    try:
        root = lxml_html.fragment_fromstring(markup, create_parent="div")
    except Exception:  # noqa: BLE001 - markup lxml cannot read at all: compare the raw text
        return _SPACE.sub(" ", html.unescape(markup)).strip()
    for bad in root.xpath(".//script|.//style"):
        bad.drop_tree()
    return _SPACE.sub(" ", root.text_content()).strip()


def fp_date(entry) -> datetime | None:
    st = entry.get("published_parsed") or entry.get("updated_parsed")
    return datetime.fromtimestamp(calendar.timegm(st), UTC) if st else None


def fp_content(entry) -> str:
    detail = entry.content[0] if entry.get("content") else entry.get("summary_detail") or {}
    value = detail.get("value", "")
    return html.escape(value) if detail.get("type") == "text/plain" else value


def fp_author(entry, feed) -> str:
    """feedparser writes `Name (email)`; tidings keeps the name. An entry without one takes the feed's
    (Atom says entries inherit it; feedparser leaves it on the feed)."""
    detail = entry.get("author_detail") or {}
    name = detail.get("name") or ("" if detail else entry.get("author", ""))
    if not name and not entry.get("author"):
        name = (feed.get("author_detail") or {}).get("name", "")
    return name


def fp_title(entry) -> str:
    detail = entry.get("title_detail") or {}
    title = entry.get("title", "")
    if detail.get("type") in ("text/html", "application/xhtml+xml"):
        return text_of(title)
    return _SPACE.sub(" ", title).strip()


def fp_cover(entry) -> str:
    """The image feedparser reports for an entry: media:thumbnail, image media:content, image enclosure."""
    for thumb in entry.get("media_thumbnail", []):
        if thumb.get("url"):
            return thumb["url"]
    for media in entry.get("media_content", []):
        if media.get("url") and (media.get("medium") == "image" or media.get("type", "").startswith("image/")):
            return media["url"]
    for link in entry.get("links", []):
        if link.get("rel") == "enclosure" and link.get("type", "").startswith("image/") and link.get("href"):
            return link["href"]
    return ""


def differences(fp_entry, entry: Entry, fp_feed) -> list[str]:
    """The kept fields on which tidings and feedparser disagree for one entry."""
    out = []
    checks = {
        "title": (fp_title(fp_entry), _SPACE.sub(" ", entry.title).strip()),
        "link": (fp_entry.get("link", ""), entry.link),
        "guid": (fp_entry.get("id", ""), entry.guid),
        "author": (fp_author(fp_entry, fp_feed), entry.author.split(", ")[-1] if fp_entry.get("authors") else entry.author),
        "content": (text_of(fp_content(fp_entry)), text_of(entry.content)),
        "categories": ([t.get("term") for t in fp_entry.get("tags", []) if t.get("term")], entry.tags),
    }
    if cover := fp_cover(fp_entry):  # without one, tidings takes the content's first image: nothing to compare
        checks["cover"] = (cover, entry.cover)
    date = fp_date(fp_entry)
    # tidings drops dates before 1970 and more than a day ahead (they would pin an item to a listing's top)
    if date and 1970 <= date.year and date < datetime.now(UTC) + timedelta(days=1):
        checks["date"] = (date, entry.published and entry.published.replace(microsecond=0))
    for name, (want, got) in checks.items():
        if want != got:
            out.append(f"{name}: feedparser {want!r}, tidings {got!r}")
    return out


# Why tidings deliberately reads a file otherwise than feedparser does (docs/decisions.md, "Reading the
# feedparser corpus"): file → (the fields that differ, the reason). Every other field of the file is still
# compared, and its entries counted; a listed file that agrees on its listed fields fails, so that the list
# stays true. "count": tidings stores fewer entries (never none); NOT_COMPARED: the file is not read at all.
COUNT = "count"
NOT_COMPARED = frozenset({"*"})
FIELDS = frozenset({"title", "link", "guid", "author", "content", "categories", "cover", "date", COUNT})


def _d(fields: str, reason: str) -> tuple[frozenset[str], str]:
    names = frozenset(fields.split())
    assert names == NOT_COMPARED or names <= FIELDS, names
    return names, reason


_CHARDET = _d("title content", "charset: feedparser without chardet reads these undeclared legacy charsets as "
              "cp1252 mojibake; tidings detects the charset (charset_normalizer) and reads the real text")
_SANITIZE = _d("content", "content: feedparser sanitizes as it parses; tidings keeps the feed's HTML and "
               "sanitizes in clean/ (nh3), so the raw text here still holds what the cleaner removes")
_GUID_AS_GIVEN = _d("guid link", "guid: an id is an identity, not a link: tidings keeps it as the feed wrote it "
                    "(feedparser resolves a relative id against the base, and makes it the link)")
_CONTENT_LOCATION = _d("link", "link: tidings resolves against the URL it fetched, not a Content-Location header")
_SAME_ITEM_TWICE = _d("count", "count: both entries have one id (or neither has id, link, title nor date and "
                      "their text is the same): one item, stored once")
DIFFERENCES: dict[str, tuple[frozenset[str], str]] = {
    **{f"illformed/chardet/{n}.xml": _CHARDET for n in ("eucjp", "euckr", "gb2312", "koi8r", "shiftjis", "tis620",
                                                          "windows1255")},
    **{f"wellformed/sanitize/{n}.xml": _SANITIZE for n in (
        "entry_content_crazy", "entry_content_iframe", "entry_summary_crazy", "item_content_encoded_crazy",
        "item_content_encoded_script_nested_cdata", "item_description_crazy", "item_fullitem_crazy")},
    "wellformed/sanitize/entry_title_crazy.xml": _d("title", "title: a whole HTML page as an html title: feedparser "
                                                    "keeps the text of its <title> and <script>; tidings shows the "
                                                    "text of its body without scripts, as a browser would"),
    **{n: _GUID_AS_GIVEN for n in (
        "wellformed/atom10/entry_id_no_normalization_4.xml", "wellformed/atom10/entry_id_with_attributes.xml",
        "wellformed/base/http_entry_id_base_content_location.xml", "wellformed/base/http_entry_id_base_docuri.xml",
        "wellformed/lang/http_content_language_entry_title_inherit_2.xml")},
    **{n: _CONTENT_LOCATION for n in ("wellformed/base/http_entry_link_base_content_location.xml",
                                      "wellformed/base/http_item_link_base_content_location.xml")},
    **{n: _SAME_ITEM_TWICE for n in (
        "wellformed/atom/entry_link_no_href_link_priority.xml", "wellformed/atom/entry_link_rel_enclosure_no_href.xml",
        "wellformed/atom10/entry_link_no_href_link_priority.xml",
        "wellformed/atom10/entry_link_rel_enclosure_no_href.xml", "wellformed/lang/entry_content_xml_lang_blank_3.xml",
        "wellformed/node_precedence/atom10_arbitrary_element.xml", "wellformed/node_precedence/atom10_id.xml",
        "wellformed/node_precedence/atom10_title.xml")},
    "encoding/bozo_double-encoded-html.xml": _d("content", "content: UTF-8 read as cp1252 twice by its publisher; "
                                                "tidings keeps what the feed says (the cleaner's mojibake repair "
                                                "fixes it later)"),
    "encoding/double-encoded-html.xml": _d("content", "content: as bozo_double-encoded-html.xml"),
    "encoding/bozo_linenoise.xml": _d("content", "content: undecodable noise; tidings' charset detection and "
                                      "feedparser's cp1252 fallback read different noise"),
    "encoding/demoronize-1.xml": _d("content", "content: `&#146;`-style references are kept as the feed wrote them; "
                                    "HTML5 reads 128-159 as cp1252, so browsers show them right"),
    "encoding/demoronize-2.xml": _d("content", "content: as demoronize-1.xml"),
    "wellformed/atom10/entry_content_div_escaped_markup.xml": _d("content", "content: type=html holding an XHTML div "
        "whose text is escaped markup: tidings keeps the markup as text, as the XML says"),
    "wellformed/atom10/entry_title_base64.xml": _d("title", "title: a base64 HTML title is shown as its text"),
    "wellformed/atom10/entry_title_base64_2.xml": _d("title", "title: as entry_title_base64.xml"),
    "wellformed/media-rss/media_group.xml": _d("content", "content: media:description inside media:group describes "
                                               "the media, not the item"),
    "wellformed/rss/item_description_and_summary.xml": _d("content", "content: <summary> is no RSS element; the "
                                                          "description is the item's text"),
    "wellformed/rss/item_description_not_a_doctype.xml": _d("content", "content: `<!'` is not markup either reader "
                                                            "can keep"),
    "illformed/rss_incomplete_cdata.xml": _d("title", "title: a CDATA section never closed: libxml2's recovery keeps "
                                             "its first characters"),
    "wellformed/rss/item_category_image.xml": _d("title", "title: the item has none; feedparser takes the title of "
                                                 "an <image> nested in a <category>"),
    "wellformed/atom/entry_link_no_href.xml": _d("link", "link: feedparser takes the feed's link for an entry whose "
                                                 "link has no href; tidings leaves it empty rather than guess"),
    "wellformed/atom10/entry_link_no_href.xml": _d("link", "link: as atom/entry_link_no_href.xml"),
    "wellformed/rss/item_guid_isPermaLink_ValueError.xml": _d("guid link", "guid/link: tidings keeps a permalink "
        "guid that is not a valid URL as the id and link (feedparser drops it)"),
    "wellformed/rss/entity_in_doctype.xml": _d("guid", "guid: entities declared in a DOCTYPE are never expanded "
                                               "(entity bombs); the reference stays as text"),
    "wellformed/psc/rss2.0simplechapter.xml": _d("guid author date", "guid/author/date: podlove chapters carry Atom "
                                                 "elements inside RSS; tidings reads the RSS item"),
    "wellformed/atom/entry_updated_multiple_values.xml": _d("date", "date: two <updated> in one entry: tidings takes "
                                                            "the first"),
    "wellformed/atom10/entry_category_term_non_ascii.xml": _d("categories", "categories: feedparser mis-decodes a "
                                                              "UTF-8 term (`FreirÃ¤ume`); tidings reads `Freiräume`"),
    "wellformed/rss/item_madeup_tags_element.xml": _d("categories", "categories: <tags> is no element of any "
                                                      "namespace tidings reads"),
    "wellformed/base/cdf_item_abstract_xml_base.xml": (NOT_COMPARED, "CDF, a 1997 format (SPEC §9 sets it aside)"),
    "json/example.json": (NOT_COMPARED, "feedparser 6.0 reads no JSON Feed: tests/test_parse.py checks tidings' "
                                        "JSON Feed reader"),
}


def _field(difference: str) -> str:
    return difference.partition(":")[0]


@pytest.mark.parametrize("name", corpus_files())
def test_corpus_feed_agrees_with_feedparser(name: str) -> None:
    corpus = need_corpus()
    fields, reason = DIFFERENCES.get(name, (frozenset(), ""))
    if fields == NOT_COMPARED:
        pytest.skip(reason)
    path = corpus / name
    data = path.read_bytes()
    headers = harness_headers(data)
    url = BASE_URL + name
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = feedparser.parse(data, response_headers={"content-location": url, **headers})
    source = Source(url=url, category="c", source="s", channel="")
    try:
        got = parse_feed(data, source, content_type=headers.get("content-type", ""), url=url).entries
    except ParseError as e:
        assert not expected.entries, f"feedparser reads {len(expected.entries)} entries, tidings refuses: {e}"
        return
    if COUNT in fields:  # entries merged on purpose: fewer, never none (a pairing by position means nothing)
        assert 0 < len(got) < len(expected.entries), f"listed for {reason!r}, but feedparser reads " \
                                                      f"{len(expected.entries)} entries and tidings {len(got)}"
        return
    assert len(got) == len(expected.entries), f"{len(expected.entries)} entries in feedparser, {len(got)} in tidings"
    found = [f"entry {i}: {d}" for i, (fe, e) in enumerate(zip(expected.entries, got)) for d in differences(fe, e, expected.feed)]
    problems = [d for d in found if _field(d.partition(": ")[2]) not in fields]
    assert not problems, "\n".join(problems)
    if fields:  # a listed difference that is gone: take the file off the list
        assert any(_field(d.partition(": ")[2]) in fields for d in found), \
            f"listed in DIFFERENCES ({reason}), but tidings and feedparser agree on {sorted(fields)}"
