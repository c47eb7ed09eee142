"""The seed preset's front matter built in one f-string with cached category lines (hexo._seed_head) equals
the line-by-line build it replaced, kept here as the reference."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

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
