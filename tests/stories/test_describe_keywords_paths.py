"""Session 14's cheaper keyword scorers against the code they replace, on generated text: the same keywords.

* Chinese: a word's TF is one count in the title TITLE_WEIGHT times and the lead joined by NUL, not two counts.
* English: the candidates in order of first position are read off the TF dict's key order, not sorted."""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tidings.stories import keywords as kw
from tidings.stories import near
from tidings.stories.keywords import _count_elements  # the scorer's own counting

# --- Chinese -------------------------------------------------------------------------------------------

_ZH_PIECES = ["制造业", "制造业PMI", "PMI", "国家统计局", "统计", "统计局", "地震", "茅台", "神舟", "十九号", "台风",
              "业务量", "记者", "49.5%", "10月", "Apple", "é", "图", "０", "，", "。", " ", "\n", "\x00", "\r",
              "统计统计", "局统", "AA", "A"]


def _keywords_zh_reference(title: str, text: str, max_tags: int, words: dict[str, None],
                           ok: dict[str, float]) -> list[str]:
    """keywords._keywords_zh as it was: the title and the lead counted apart."""
    lead = text[:kw.ZH_LEAD]
    cands = list(filter(ok.__getitem__, words))
    neg = [-(kw.TITLE_WEIGHT * title.count(c) + lead.count(c)) * ok[c] for c in cands]
    out: list[str] = []
    for w in map(cands.__getitem__, sorted(range(len(cands)), key=neg.__getitem__)):
        if any(w in o or o in w for o in out):
            continue
        out.append(w)
        if len(out) == max_tags:
            break
    return out


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


def test_chinese_one_count_sees_repeats_in_the_title_and_across_the_cut():
    # a word repeated in the title, overlapping itself, and one whose halves meet where the title's copies join
    title, text = "统计统计局统计", "局统计统计统计。" * 50
    lead = near.read_lead(title, text)
    words = kw._zh_segment(lead.title.strip(), lead.text)
    ok = kw._zh_memo([words])
    assert kw._keywords_zh(lead.title.strip(), lead.text, 5, words, ok) == _keywords_zh_reference(
        lead.title.strip(), lead.text, 5, words, ok)


# --- English -------------------------------------------------------------------------------------------

def _keywords_en_reference(title: str, text: str, max_tags: int) -> list[str]:
    """keywords._keywords_en as it was: the candidates a set difference sorted by first position."""
    stop, never, two_letter = kw._en_tables()
    lead = text[:kw.EN_LEAD]
    tokens = kw._en_words(title)[:kw._MAX_TOKENS]
    n_title = len(tokens)
    tokens += kw._en_words(lead)[:kw._MAX_TOKENS]
    if not tokens:
        return []
    joined = " ".join(tokens)
    low = joined.lower().split(" ")
    tf: dict[str, int] = {}
    _count_elements(tf, low)
    for w in low[:n_title]:
        tf[w] += kw.TITLE_WEIGHT - 1
    first = dict(zip(reversed(low), range(len(low) - 1, -1, -1)))
    seen = " " + joined + " "
    runs = kw._TITLE_CAPS.findall(". " + title) + kw._CAP_RUN.findall(". " + lead)
    cap_words = " ".join(runs).split(" ") if runs else []
    cap_low = " ".join(cap_words).lower().split(" ") if runs else []
    caps: dict[str, int] = {}
    _count_elements(caps, cap_low)
    caps_form = dict(zip(cap_low, cap_words))
    distinct = set(first)
    cands = list(distinct.difference(never))
    two = distinct.intersection(two_letter)
    if two:
        cands += [k for k in two if f" {k.upper()} " in seen]
    cands.sort(key=first.__getitem__)
    score = {w: tf[w] * kw._CAPS_BONUS[caps.get(w, 0)] * kw._EARLY[first[w]] for w in cands}
    form: dict[str, str] = {}
    phrases = [run for run in runs if " " in run]
    if phrases:
        kw._score_phrases(phrases, low, n_title, tf, stop, score, first, form)
        cands = sorted(score, key=first.__getitem__)
    ranked = sorted(cands, key=score.__getitem__, reverse=True)
    if form:
        ranked = kw._names_over_words(ranked, max_tags)
    out: list[str] = []
    for key in ranked[:max_tags]:
        shown = form.get(key) or caps_form.get(key)
        if shown is None:
            upper = key.upper()
            shown = upper if f" {upper} " in seen else key if f" {key} " in seen else tokens[first[key]]
        out.append(shown)
    return out


_EN_PIECES = ("Federal Reserve Chair Jerome Powell said the US economy grew 3.5% in Q3 while AI stocks rose "
              "Apple's revenue P&G well-known St. Louis the EU's 2024 G20 US us Us AI ai UK of a an to it "
              "x86 e.g. naïve café Bank of England WHO who").split() + [". ", ", ", "\n", "图", "(", ")"]
_en_text = st.lists(st.sampled_from(_EN_PIECES), max_size=90).map(" ".join)


@settings(max_examples=500, deadline=None)
@given(_en_text, _en_text, st.sampled_from([1, 3, 5]))
def test_english_candidates_in_key_order_give_the_sorted_ones_keywords(title, text, max_tags):
    assert kw._keywords_en(title, text, max_tags) == _keywords_en_reference(title, text, max_tags)


def test_english_two_letter_words_seen_in_capitals_still_take_their_place():
    title, text = "US and UK talks", "The talks of the UK, the US and AI makers went on; US officials said AI rules."
    assert kw._keywords_en(title, text, 5) == _keywords_en_reference(title, text, 5)
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
