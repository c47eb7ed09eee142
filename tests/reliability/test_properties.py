"""Property tests (Hypothesis) for what strangers control: any text in any field, any bytes as a feed.

* Front matter from render_seed / render_hexo reads back, in PyYAML and in js-yaml + hexo-front-matter
  (the parsers Hexo uses; one node process for all examples), to the item's values after
  `yaml_safe_text` (which drops only lone surrogates).
* Any bytes as a feed body: parse gives entries or a ParseError; ingest (parse, clean, store) and
  the Hexo build never raise.
* Post paths (safe_component / unique_post_path / build_posts) never leave the output directory and
  never carry characters that are unsafe in file names.

The tests that store go through a SQLite and a PostgreSQL store (conftest's fresh_store: a fresh, empty store
per example), with fewer examples on PostgreSQL (EXAMPLES_PG), where each costs more.
"""
from __future__ import annotations

import json
import string
import subprocess
import sys
import tempfile
import unicodedata
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hostile_values import HOSTILE  # noqa: E402

from tidings.clean import clean_text  # noqa: E402
from tidings.config import Config  # noqa: E402
from tidings.model import Entry, FetchResult, Source, item_id  # noqa: E402
from tidings.parse import ParseError, parse_feed  # noqa: E402
from tidings.pipeline import Cleaner, ingest  # noqa: E402
from tidings.publish.frontmatter import yaml_safe_text  # noqa: E402
from tidings.publish.hexo import build_posts, render_hexo, render_seed  # noqa: E402
from tidings.publish.paths import safe_component, unique_post_path  # noqa: E402
from tidings.store import IngestRow, Store, StoredItem  # noqa: E402

# Characters that break YAML, Hexo, file names or terminals, to mix into random text.
SPECIAL_CHARS = list("\x00\x01\x08\t\n\r\x0b\x0c\x1b\x7f\x85\xa0\u2028\u2029\ufeff\ufffe\uffff\u200b\u200d\u202e"
                     "\u2066\ud800\udfff:#-?{}[]|>&*!%@`'\", ./\\_<\U0001F600")
SPECIAL = SPECIAL_CHARS + ["---", "...", "{{", "}}", "{%", "<!-- more -->"]
ANY_CHAR = st.characters(exclude_categories=())  # every code point, lone surrogates included
TEXT = st.one_of(
    st.text(ANY_CHAR, max_size=40),
    st.text(st.sampled_from(SPECIAL_CHARS), max_size=12),
    st.lists(st.one_of(st.sampled_from(SPECIAL), st.text(ANY_CHAR, max_size=4)), max_size=8).map("".join),
    st.sampled_from(HOSTILE),
)
HEX_ID = st.one_of(st.text("0123456789abcdef", min_size=16, max_size=16), st.text("0123456789", min_size=16, max_size=16))
WHEN = st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2099, 12, 31), timezones=st.just(UTC))
FORBIDDEN_IN_NAMES = set('/\\:*?"<>|#%') | {chr(c) for c in range(0x20)} | {chr(c) for c in range(0x7F, 0xA0)} | set(
    "\u200b\u200c\u200d\u200e\u200f\u2060\ufeff\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\ufffe\uffff")


@st.composite
def stored_items(draw) -> StoredItem:
    published = draw(WHEN)
    return StoredItem(
        source_key="http://feeds.example.com/f", id=draw(HEX_ID), guid=draw(TEXT), link=draw(TEXT), title=draw(TEXT),
        author=draw(TEXT), published=published, updated=draw(st.none() | WHEN), first_seen=published,
        content=draw(TEXT), html=draw(TEXT), cover=draw(TEXT), tags=draw(st.lists(TEXT, max_size=4)), hash="0" * 32,
        category=draw(TEXT), source=draw(TEXT), channel=draw(TEXT))


def front_matter(post: str) -> str:
    lines = post.split("\n")
    start = lines.index("---")
    end = lines.index("---", start + 1)
    return "\n".join(lines[start + 1:end])


def expected(item: StoredItem, preset: str) -> dict:
    s = yaml_safe_text
    want = {"title": s(item.title), "categories": [s(c) for c in item.categories], "headimg": s(item.cover),
            "thumbnail": s(item.cover), "comments": False}
    if preset == "seed":
        want["author"] = s(item.source)
    else:
        want.update(author=s(item.author or item.source), tags=[s(t) for t in item.all_tags], link=s(item.link),
                    id=item.id, disableNunjucks=True, story=s(item.story or item.id))
    return want


def render(item: StoredItem, preset: str, clean: bool) -> str:
    return render_seed(item, clean) if preset == "seed" else render_hexo(item, clean, ZoneInfo("Asia/Shanghai"))


def _no_nulls(v):
    return [] if v is None else v


@settings(max_examples=400, deadline=None)
@given(item=stored_items(), preset=st.sampled_from(["seed", "hexo"]), clean=st.booleans())
@example(item=StoredItem("k", "1234567890123456", "", "", "t", "", datetime(2022, 3, 14, tzinfo=UTC), None,
                         datetime(2022, 3, 14, tzinfo=UTC), "", "", "", [], "", "c", "s", ""),
         preset="hexo", clean=True)
def test_front_matter_reads_back_in_pyyaml(item, preset, clean):
    post = render(item, preset, clean)
    post.encode("utf-8")  # always writable
    meta = yaml.safe_load(front_matter(post))
    want = expected(item, preset)
    got = {k: meta.get(k) for k in want}
    if "categories" in got:
        got["categories"] = _no_nulls(got["categories"])
    if "tags" in got:
        got["tags"] = _no_nulls(got["tags"])
    assert got == want
    assert post.rstrip(" ").endswith("</div>\n")


# js-yaml (Hexo's YAML parser) and hexo-front-matter (Hexo's splitter) on every rendered post at once.
_NODE = r"""
const path = require('path');
const base = path.join(process.argv[2], 'node_modules');
const jsyaml = require(path.join(base, 'js-yaml'));
const hfm = require(path.join(base, 'hexo-front-matter'));
const posts = JSON.parse(require('fs').readFileSync(0, 'utf8'));
const out = posts.map(([fm, post]) => {
  const r = {};
  try { r.jsyaml = jsyaml.load(fm); } catch (e) { r.error = 'js-yaml: ' + String(e); }
  try { const d = hfm.parse(post); delete d._content; r.hexo = d; } catch (e) { r.error = 'hexo-front-matter: ' + String(e); }
  return r;
});
process.stdout.write(JSON.stringify(out));
"""


@pytest.mark.hexo
def test_front_matter_reads_back_in_js_yaml_and_hexo(tmp_path):
    from hexo_harness import HexoUnavailable, ensure_hexo, node_available

    if not node_available():
        pytest.skip("node is not on PATH: cannot run js-yaml / hexo-front-matter")
    try:
        cache = ensure_hexo()
    except (HexoUnavailable, RuntimeError) as e:
        pytest.skip(f"Hexo's js-yaml is not installed and cannot be: {str(e)[:200]}")
    cases: list[tuple[StoredItem, str, str]] = []

    @settings(max_examples=400, deadline=None, database=None)
    @given(item=stored_items(), preset=st.sampled_from(["seed", "hexo"]))
    def collect(item, preset):
        cases.append((item, preset, render(item, preset, True)))

    collect()
    script = tmp_path / "check.js"
    script.write_text(_NODE, encoding="utf-8")
    proc = subprocess.run(["node", str(script), str(cache)], input=json.dumps([[front_matter(p), p] for _, _, p in cases]),
                          capture_output=True, text=True, encoding="utf-8", timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    results = json.loads(proc.stdout)
    assert len(results) == len(cases) >= 100
    failures = []
    for (item, preset, post), r in zip(cases, results):
        want = expected(item, preset)
        for parser in ("jsyaml", "hexo"):
            meta = r.get(parser) or {}
            got = {k: meta.get(k) for k in want}
            for k in ("categories", "tags"):
                if k in got:
                    got[k] = _no_nulls(got[k])
            if r.get("error") or got != want:
                failures.append((parser, r.get("error"), want, got, front_matter(post)))
    assert not failures, failures[:3]


# --- any bytes as a feed ----------------------------------------------------------------------------

def _xml_escape(t: str) -> str:
    return t.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


ESCAPED = st.text(ANY_CHAR, max_size=30).map(_xml_escape)  # well-formed, every character still possible
XML_TEXT = st.one_of(ESCAPED, ESCAPED, ESCAPED, st.text(ANY_CHAR, max_size=30), st.text(st.sampled_from(SPECIAL_CHARS + list("<>&;=")), max_size=10),
                     st.sampled_from(["&amp;", "&nbsp;", "&#0;", "&#xD800;", "&#x1F600;", "<![CDATA[", "]]>", "&lol;",
                                      "<!--", "-->", "<b>", "</item>", '"', "&#99999999999999;"]))
ENCODINGS = st.sampled_from(["UTF-8", "utf-16", "gb2312", "ISO-8859-1", "Shift_JIS", "x-nope", ""])


@st.composite
def xml_feeds(draw) -> bytes:
    f = lambda: draw(XML_TEXT)  # noqa: E731
    enc = draw(ENCODINGS)
    decl = f'<?xml version="1.0" encoding="{enc}"?>' if enc else ""
    kind = draw(st.sampled_from(["rss", "atom", "rdf"]))
    if kind == "rss":
        items = "".join(f"<item><title>{f()}</title><guid>{f()}</guid><link>{f()}</link><pubDate>{f()}</pubDate>"
                        f"<description>{f()}</description><category>{f()}</category><author>{f()}</author>"
                        f'<enclosure url="{f()}" type="image/jpeg"/></item>' for _ in range(draw(st.integers(1, 3))))
        doc = f'{decl}<rss version="2.0"><channel><title>{f()}</title><link>{f()}</link><ttl>{f()}</ttl>{items}</channel></rss>'
    elif kind == "atom":
        entries = "".join(f'<entry><title type="{draw(st.sampled_from(["text", "html", "xhtml"]))}">{f()}</title>'
                          f"<id>{f()}</id><updated>{f()}</updated><link href=\"{f()}\"/>"
                          f'<content type="{draw(st.sampled_from(["text", "html", "xhtml"]))}">{f()}</content>'
                          f"<author><name>{f()}</name></author></entry>" for _ in range(draw(st.integers(1, 3))))
        doc = f'{decl}<feed xmlns="http://www.w3.org/2005/Atom" xml:base="{f()}"><title>{f()}</title>{entries}</feed>'
    else:
        items = "".join(f'<item rdf:about="{f()}"><title>{f()}</title><link>{f()}</link><dc:date>{f()}</dc:date></item>'
                        for _ in range(draw(st.integers(1, 3))))
        doc = (f'{decl}<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/" '
               f'xmlns:dc="http://purl.org/dc/elements/1.1/"><channel><title>{f()}</title></channel>{items}</rdf:RDF>')
    codec = {"utf-16": "utf-16", "gb2312": "gb18030", "Shift_JIS": "shift_jis", "ISO-8859-1": "latin-1"}.get(enc, "utf-8")
    try:
        data = doc.encode(codec, "surrogatepass" if codec == "utf-8" else "replace")
    except UnicodeEncodeError:
        data = doc.encode("utf-8", "surrogatepass")
    return data


JSON_VALUES = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(ANY_CHAR, max_size=20),
                           lambda kids: st.lists(kids, max_size=3) | st.dictionaries(st.text(max_size=8), kids, max_size=3),
                           max_leaves=8)
JSON_KEYS = ["id", "title", "url", "external_url", "content_html", "content_text", "summary", "date_published",
             "date_modified", "image", "banner_image", "tags", "authors", "author"]


@st.composite
def json_feeds(draw) -> bytes:
    items = draw(st.lists(st.one_of(JSON_VALUES, st.dictionaries(st.sampled_from(JSON_KEYS), JSON_VALUES | TEXT,
                                                                   max_size=len(JSON_KEYS))), max_size=4))
    doc = {"version": draw(st.sampled_from(["https://jsonfeed.org/version/1.1", "https://jsonfeed.org/version/", 1])),
           "title": draw(JSON_VALUES), "home_page_url": draw(JSON_VALUES), "items": items}
    if draw(st.booleans()):
        doc["authors"] = draw(JSON_VALUES)
    return json.dumps(doc, ensure_ascii=draw(st.booleans()), allow_nan=True).encode("utf-8", "surrogatepass")


@st.composite
def mutated(draw, base) -> bytes:
    data = bytearray(draw(base))
    for _ in range(draw(st.integers(1, 6))):
        if not data:
            break
        i = draw(st.integers(0, len(data) - 1))
        op = draw(st.sampled_from(["flip", "insert", "delete", "cut"]))
        if op == "flip":
            data[i] = draw(st.integers(0, 255))
        elif op == "insert":
            data[i:i] = draw(st.binary(min_size=1, max_size=8))
        elif op == "delete":
            del data[i:i + draw(st.integers(1, 8))]
        else:
            del data[i:]
    return bytes(data)


FEED_BYTES = st.one_of(st.binary(max_size=600), xml_feeds(), json_feeds(), mutated(xml_feeds()), mutated(json_feeds()))
SOURCE = Source(url="http://feeds.example.com/hostile", category="c", source="s", channel="", timezone="Asia/Shanghai")
CONTENT_TYPES = st.sampled_from(["", "application/rss+xml; charset=utf-8", "text/xml; charset=gbk",
                                 "application/json", "text/html; charset=x-unknown", "application/xml; charset=\"utf-16\""])


@settings(max_examples=600, deadline=None)
@given(body=FEED_BYTES, content_type=CONTENT_TYPES)
def test_any_bytes_give_entries_or_parse_error(body, content_type):
    try:
        feed = parse_feed(body, SOURCE, content_type=content_type, url=SOURCE.url)
    except ParseError as e:
        assert str(e) and "\n" not in str(e)
        return
    for e in feed.entries:
        assert len(e.id) == 16 and set(e.id) <= set(string.hexdigits.lower())
        for value in (e.title, e.link, e.guid, e.author, e.content, e.cover, *e.tags):
            assert isinstance(value, str)
            value.encode("utf-8")  # no lone surrogates: SQLite and files take it


_CLEANER = Cleaner(Config())
# Examples of the storing tests on PostgreSQL, as a share of SQLite's: about 3 times dearer each there.
EXAMPLES_PG = 1 / 3


def _examples(fresh_store, n: int) -> int:
    return n if fresh_store.backend == "sqlite" else max(10, int(n * EXAMPLES_PG))


def test_any_bytes_through_ingest_and_hexo_build(fresh_store):
    """The pipeline's own ingest (parse → clean → store) and the Hexo build never raise on a feed body."""
    @settings(max_examples=_examples(fresh_store, 150), deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(body=st.one_of(xml_feeds(), json_feeds(), mutated(xml_feeds())), content_type=CONTENT_TYPES,
           preset=st.sampled_from(["seed", "hexo"]))
    def ingest_and_build(body, content_type, preset):
        with tempfile.TemporaryDirectory() as tmp, fresh_store() as store:
            store.sync_sources([SOURCE])
            outcome = ingest(store, FetchResult(SOURCE, status=200, body=body, content_type=content_type,
                                                final_url=SOURCE.url), _CLEANER)
            assert outcome.status in ("new", "failed")
            report = build_posts(store, Path(tmp) / "blog", preset=preset)
            check_posts(store, Path(tmp) / "blog" / "source" / "_posts", report)

    ingest_and_build()


def check_posts(store: Store, posts_dir: Path, report) -> None:
    ledger = store.posts()
    files = {p.relative_to(posts_dir).as_posix() for p in posts_dir.rglob("*") if p.is_file()}
    assert files == {path for path, _ in ledger.values()}
    assert len(ledger) == store.count_items()
    for rel in files:
        assert (posts_dir / rel).resolve().is_relative_to(posts_dir.resolve())
        for part in rel.split("/"):
            assert_safe_name(part)


def assert_safe_name(part: str) -> None:
    assert part and part not in (".", "..")
    assert not (set(part) & FORBIDDEN_IN_NAMES), repr(part)
    assert all(unicodedata.category(ch) not in ("Cc", "Cs") for ch in part), repr(part)
    assert not part.startswith((".", "_")) and not part.endswith((" ", ".")), repr(part)
    assert len(part.encode("utf-8")) <= 200


# --- paths ------------------------------------------------------------------------------------------

@settings(max_examples=500, deadline=None)
@given(components=st.lists(TEXT, min_size=0, max_size=3), stem=TEXT, iid=HEX_ID,
       taken_count=st.integers(0, 3))
def test_post_paths_never_escape(components, stem, iid, taken_count):
    taken: set[str] = set()
    seen = []
    for _ in range(taken_count + 1):  # the same name for several items: each gets its own path
        rel = unique_post_path([safe_component(c) for c in components], stem, iid, lambda p: p in taken)
        assert rel not in taken
        taken.add(rel)
        seen.append(rel)
        root = Path("/srv/blog/source/_posts")
        assert (root / rel).resolve().is_relative_to(root)
        assert not Path(rel).is_absolute() and ".." not in Path(rel).parts
        for part in rel.split("/"):
            assert_safe_name(part)
        assert rel.endswith(".md")
    assert len(set(seen)) == len(seen)


@st.composite
def entries(draw) -> list[Entry]:
    out = []
    for i in range(draw(st.integers(1, 4))):
        title = draw(TEXT)
        out.append(Entry(source_key=SOURCE.url, id=item_id(f"g{i}"), title=title, link=draw(TEXT), author=draw(TEXT),
                         published=draw(st.none() | WHEN), content=draw(TEXT), cover=draw(TEXT),
                         tags=draw(st.lists(TEXT, max_size=3))))
    return out


def test_build_posts_with_hostile_names(fresh_store):
    """Whatever the titles and category names (even ones a config would refuse), every post lands inside
    _posts under a safe name, one per item, and its title reads back."""
    @settings(max_examples=_examples(fresh_store, 120), deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(items=entries(), names=st.tuples(TEXT, TEXT, TEXT), preset=st.sampled_from(["seed", "hexo"]))
    def build(items, names, preset):
        hostile_names_build(fresh_store, items, names, preset)

    build()


def hostile_names_build(fresh_store, items: list[Entry], raw_names: tuple[str, str, str], preset: str) -> None:
    # Names come from tidings.yml (UTF-8, so never a lone surrogate); anything else goes.
    names = [yaml_safe_text(n) for n in raw_names]
    source = Source(url=SOURCE.url, category=names[0], source=names[1], channel=names[2])
    with tempfile.TemporaryDirectory() as tmp, fresh_store() as store:
        store.sync_sources([source])
        cleaned = []
        for e in items:  # as the pipeline's Cleaner leaves them: text XML-safe
            e.title, e.author, e.link, e.cover = (clean_text(v) for v in (e.title, e.author, e.link, e.cover))
            e.tags = [clean_text(t) for t in e.tags]
            e.content = clean_text(e.content)
            cleaned.append((e, e.content))
        store.upsert_entries(IngestRow(e, html) for e, html in cleaned)
        posts_dir = Path(tmp) / "blog" / "source" / "_posts"
        report = build_posts(store, Path(tmp) / "blog", preset=preset)
        check_posts(store, posts_dir, report)
        titles = {e.id: yaml_safe_text(e.title) for e, _ in cleaned}
        for (_key, iid), (rel, _) in store.posts().items():
            meta = yaml.safe_load(front_matter((posts_dir / rel).read_text(encoding="utf-8")))
            assert meta["title"] == titles[iid]
        # A second build changes nothing.
        again = build_posts(store, Path(tmp) / "blog", preset=preset)
        assert again.written == 0 and again.deleted == 0


def test_numeric_ids_stay_strings():
    """An id of 16 decimal digits (1 in ~1,800 items) must not become a YAML number in the hexo preset."""
    item = StoredItem("k", "0123456789012345", "", "", "t", "", datetime(2022, 3, 14, tzinfo=UTC), None,
                      datetime(2022, 3, 14, tzinfo=UTC) - timedelta(days=1), "", "", "", [], "", "c", "s", "")
    meta = yaml.safe_load(front_matter(render_hexo(item, True, ZoneInfo("UTC"))))
    assert meta["id"] == "0123456789012345"
