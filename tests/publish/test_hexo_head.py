"""hexo.py's cheaper ways give what they replaced, kept here as the references: the seed preset's front matter
in one f-string with cached category lines, single-quoted scalars, the ledger's fingerprint, the journal lines."""
from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from hashlib import sha256

from hypothesis import given, settings
from hypothesis import strategies as st

from tidings.publish import hexo
from tidings.publish.frontmatter import rfc2822_gmt, yaml_safe_text, yaml_scalar
from tidings.store.base import StoredItem


def reference_seed_head(item: StoredItem) -> str:
    cover = yaml_scalar(yaml_safe_text(item.cover), "single")
    lines = ["", "---", f"title: {yaml_scalar(yaml_safe_text(item.title), 'single')}", "categories: "]
    lines += [f" - {yaml_scalar(yaml_safe_text(c))}" for c in item.categories]
    lines += [f"headimg: {cover}", f"author: {yaml_scalar(yaml_safe_text(item.source))}", "comments: false",
              f"date: {rfc2822_gmt(item.published)}", f"thumbnail: {cover}", "---", ""]
    return "\n".join(lines) + "\n"


# YAML's indicators and quotes, line breaks, controls, a lone surrogate, CJK, words YAML reads as other types
names = st.one_of(st.sampled_from(["", "新闻", "yes", "null", "1.5", "- a", "a: b", "x #y", "'q'", "2026-11-01"]),
                  st.text(alphabet=st.sampled_from(list("ab :#-'\"\n\t\x00\x85\u2028\ud800中{}")), max_size=12))


@settings(max_examples=400)
@given(title=names, cover=names, category=names, source=names, channel=names,
       seconds=st.integers(0, 4_000_000_000), offset=st.integers(-14 * 60, 14 * 60))
def test_seed_head_is_the_line_by_line_build(title, cover, category, source, channel, seconds, offset):
    published = datetime.fromtimestamp(seconds, UTC).astimezone(timezone(timedelta(minutes=offset)))
    item = StoredItem(source_key="k", id="0123456789abcdef", guid="", link="", title=title, author="",
                      published=published, updated=None, first_seen=published, content="", html="", cover=cover,
                      tags=[], hash="h", category=category, source=source, channel=channel)
    assert hexo._seed_head(item) == reference_seed_head(item)
    # the categories build_posts made already; the property as a comprehension wrote it
    assert item.categories == [c for c in (category, source, channel) if c]
    assert hexo._seed_head(item, None, tuple(item.categories)) == reference_seed_head(item)


any_text = st.text(alphabet=st.characters(blacklist_categories=()), max_size=30)  # surrogates and controls too


@settings(max_examples=2000)
@given(any_text)
def test_single_quoted_is_yaml_scalar_of_yaml_safe_text(value):
    assert hexo._single_quoted(value) == yaml_scalar(yaml_safe_text(value), "single")


@given(st.sampled_from(["2|seed|True|UTC", "2|hexo|False|Asia/Shanghai"]), st.text(max_size=40),
       st.lists(st.text(min_size=1, max_size=8), max_size=3))
def test_fingerprint_is_the_hash_of_the_joined_text(settings_text, content_hash, categories):
    reference = sha256(f"{settings_text}|{content_hash}|{'/'.join(categories)}".encode()).hexdigest()[:32]
    assert hexo._fingerprint(f"{settings_text}|".encode(), content_hash, tuple(categories)) == reference


@settings(max_examples=50)
@given(st.lists(any_text.filter(lambda t: not any("\ud800" <= c <= "\udfff" for c in t)), max_size=5))
def test_journal_lines_are_json_dumps_lines(tmp_path_factory, rels):
    journal = hexo._Journal(tmp_path_factory.mktemp("j") / "journal")
    journal.add_all(rels)
    journal.close()
    assert journal.path.read_bytes() == "".join(json.dumps(rel) + "\n" for rel in rels).encode("ascii")
