"""Session 14's cheaper keyword scorers against the code they replace, on generated text: the same keywords.

* Chinese: a word's TF is one count in the title TITLE_WEIGHT times and the lead joined by NUL, not two counts.
* English: the candidates in order of first position are read off the TF dict's key order, not sorted."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tidings.stories import keywords as kw
from tidings.stories import near
from tidings.stories.keywords import _count_elements  # the scorer's own counting

# The scorers as they were before: independent references that give the same keywords
from .test_confirm_fast_paths import reference_keywords_en
from .test_fast_paths import _keywords_zh_reference

# --- Chinese -------------------------------------------------------------------------------------------

_ZH_PIECES = ["制造业", "制造业PMI", "PMI", "国家统计局", "统计", "统计局", "地震", "茅台", "神舟", "十九号", "台风",
              "业务量", "记者", "49.5%", "10月", "Apple", "é", "图", "０", "，", "。", " ", "\n", "\x00", "\r",
              "统计统计", "局统", "AA", "A"]


_zh_text = st.lists(st.sampled_from(_ZH_PIECES), max_size=140).map("".join)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(_zh_text.filter(bool), _zh_text), min_size=1, max_size=6), st.sampled_from([1, 3, 5]))
def test_chinese_keywords_by_one_count_are_those_of_two(items, max_tags):
    leads = [lead for title, text in items if (lead := near.read_lead(title, text)).cjk]
    titles = [lead.title.strip() for lead in leads]
    segmented = [kw._zh_segment(t, lead.text) for t, lead in zip(titles, leads)]
    if not segmented:
        return
    ok = kw._zh_memo(segmented)
    for t, lead, words in zip(titles, leads, segmented):
        assert (kw._keywords_zh(t, lead.text, max_tags, words, ok)
                == _keywords_zh_reference(t, lead.text, max_tags, words, ok)), (t, lead.text)


@pytest.mark.parametrize(("title", "text", "max_tags", "expected"), [
    # a word repeated in the title, overlapping itself, and one whose halves meet where the title's copies join
    ("统计统计局统计", "局统计统计统计。" * 50, 5, None),
    # 统计局 once more where a copy of the title ends in 统计 and the next starts with 局: joined without a
    # separator it would outrank 统计
    ("局统国家统计局统计", "国家统计局统计局", 1, ["统计"]),
])
def test_chinese_one_count_sees_repeats_in_the_title_and_across_the_cut(title, text, max_tags, expected):
    lead = near.read_lead(title, text)
    words = kw._zh_segment(lead.title.strip(), lead.text)
    ok = kw._zh_memo([words])
    found = kw._keywords_zh(lead.title.strip(), lead.text, max_tags, words, ok)
    assert found == _keywords_zh_reference(lead.title.strip(), lead.text, max_tags, words, ok)
    assert expected is None or found == expected


# --- English -------------------------------------------------------------------------------------------

_EN_PIECES = ("Federal Reserve Chair Jerome Powell said the US economy grew 3.5% in Q3 while AI stocks rose "
              "Apple's revenue P&G well-known St. Louis the EU's 2024 G20 US us Us AI ai UK of a an to it "
              "x86 e.g. naïve café Bank of England WHO who").split() + [". ", ", ", "\n", "图", "(", ")"]
_en_text = st.lists(st.sampled_from(_EN_PIECES), max_size=90).map(" ".join)


@settings(max_examples=500, deadline=None)
@given(_en_text, _en_text, st.sampled_from([1, 3, 5]))
def test_english_candidates_in_key_order_give_the_sorted_ones_keywords(title, text, max_tags):
    assert kw._keywords_en(title, text, max_tags) == reference_keywords_en(title, text, max_tags)


def test_english_two_letter_words_seen_in_capitals_still_take_their_place():
    title, text = "US and UK talks", "The talks of the UK, the US and AI makers went on; US officials said AI rules."
    assert kw._keywords_en(title, text, 5) == reference_keywords_en(title, text, 5)
    assert {"UK", "AI"} <= set(kw._keywords_en(title, text, 5))  # (they join the candidates after the sort)


_LOW = st.lists(st.sampled_from(["us", "ai", "uk", "of", "the", "a", "fed", "rates", "powell", "x", "q3", "2024",
                                 "bank", "england", "go", "it"]), min_size=1, max_size=60)


@settings(max_examples=1000, deadline=None)
@given(_LOW, st.integers(0, 2**16))
def test_english_candidates_are_the_sorted_set_difference(low, upper_mask):
    # each token seen in upper case or not, as the text's forms say
    seen = " " + " ".join(w.upper() if upper_mask >> (k % 16) & 1 else w for k, w in enumerate(low)) + " "
    _, never, two_letter = kw._en_tables()
    tf: dict[str, int] = {}
    _count_elements(tf, low)
    first = dict(zip(reversed(low), range(len(low) - 1, -1, -1)))
    distinct = set(first)
    expected = list(distinct.difference(never))
    expected += [k for k in distinct.intersection(two_letter) if f" {k.upper()} " in seen]
    expected.sort(key=first.__getitem__)
    assert kw._en_candidates(tf, first, seen, never, two_letter) == expected


# --- keywords_many: its Chinese items segmented, weighed and scored as the three steps do one by one -----------

@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(_zh_text, _zh_text), min_size=1, max_size=8), st.sampled_from([1, 5]))
def test_keywords_many_segments_each_item_as_zh_segment(items, max_tags):
    leads = [near.read_lead(title, text) for title, text in items]
    zh = [lead for lead in leads if lead.cjk]
    segmented = [kw._zh_segment(lead.title.strip(), lead.text) for lead in zh]
    ok = kw._zh_memo(segmented) if zh else {}
    words = iter(segmented)
    expected = [kw._keywords_zh(lead.title.strip(), lead.text, max_tags, next(words), ok) if lead.cjk
                else kw._keywords_en(lead.title.strip(), lead.text, max_tags) for lead in leads]
    assert kw.keywords_many(leads, max_tags) == expected
