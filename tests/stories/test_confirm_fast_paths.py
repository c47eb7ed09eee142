"""The stories' confirmation step's fast paths give the reference's answers: `near.conflict` (an equal-tuple
shortcut, years found in one joined string) against the rule as first written, and `near.marks_of` (the marks
read from the stored bytes) against `Fingerprint.from_bytes`."""
from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tidings.stories import keywords
from tidings.stories.near import (
    EMPTY_SIG,
    MARK_MIN_OVERLAP,
    SIG_PERMS,
    Fingerprint,
    conflict,
    extract_marks,
    fingerprint,
    marks_of,
)


def reference_conflict(a: tuple[str, ...], b: tuple[str, ...]) -> bool:
    """`conflict` as it was before its fast path (sets and comprehensions over the marks)."""
    if not a or not b:
        return False
    sa, sb = set(a), set(b)
    ya = {m for m in sa if m[0] == "y"}
    yb = {m for m in sb if m[0] == "y"}
    if ya and yb and not ya & yb:
        return True
    return len(sa & sb) < MARK_MIN_OVERLAP * min(len(sa), len(sb))


# Marks as extract_marks makes them (numbers with units, quarters, years), from a small pool so that pairs share
# some; "y…" strings that are not years and repeated marks too, which the rule must read the same way.
_POOL = ["10月", "11月", "49.5%", "50.3%", "2.3b", "15", "q3", "q4", "y2024", "y2025", "y1999", "yx", "3日", "7pp"]
marks = st.lists(st.sampled_from(_POOL), max_size=10).map(tuple)
sorted_marks = st.lists(st.sampled_from(_POOL), max_size=10, unique=True).map(lambda m: tuple(sorted(m)))


@given(marks, marks)
def test_conflict_is_the_reference_rule(a, b):
    assert conflict(a, b) == reference_conflict(a, b)
    assert conflict(a, a) == reference_conflict(a, a)


@given(sorted_marks, sorted_marks)
def test_conflict_of_stored_marks_is_the_reference_rule(a, b):
    assert conflict(a, b) == reference_conflict(a, b)


def test_conflict_cases_that_each_branch_decides():
    cases = {  # (a, b): the reference's answer
        (("y2024", "10月"), ("y2025", "10月")): True,  # years, none shared
        (("y2024", "10月"), ("y2024", "y2025", "10月")): False,  # a year shared
        (("49.5%", "10月", "y2024"), ("50.3%", "11月", "y2024")): True,  # too few shared
        (("49.5%",), ("49.5%", "50.3%", "11月")): False,  # the one with fewer is all in the other
        (("y2024",), ("y2024",)): False,
        ((), ("y2024",)): False,
    }
    for (a, b), expected in cases.items():
        assert reference_conflict(a, b) is expected
        assert conflict(a, b) is expected and conflict(b, a) is expected


texts = st.text(st.sampled_from("0123456789 .,%年月日亿万q的市场Q2024 percent billion"), max_size=60)


@given(texts, texts)
def test_marks_of_reads_what_from_bytes_reads(title, text):
    blob = fingerprint(title, text).to_bytes()
    assert marks_of(blob) == Fingerprint.from_bytes(blob).marks


@given(st.lists(st.text(st.characters(blacklist_characters="\x1f", blacklist_categories=("Cs",)), min_size=1),
                max_size=6, unique=True))
def test_marks_of_reads_any_stored_marks(stored):
    marks = tuple(sorted(stored))
    blob = Fingerprint(bytes(range(4)) * SIG_PERMS, marks).to_bytes()
    assert marks_of(blob) == Fingerprint.from_bytes(blob).marks == marks


def test_marks_of_rare_blobs_are_from_bytes():
    fp = Fingerprint(bytes(range(4)) * SIG_PERMS, extract_marks("10月 49.5% 2024年"))
    blob = fp.to_bytes()
    older = b"\x01" + blob[1:]  # an older format: empty, no marks
    empty_with_marks = blob[:-4 * SIG_PERMS] + EMPTY_SIG  # an empty signature reads as no marks
    assert marks_of(blob) == fp.marks != ()
    assert marks_of(older) == Fingerprint.from_bytes(older).marks == ()
    assert marks_of(empty_with_marks) == Fingerprint.from_bytes(empty_with_marks).marks == ()
    for bad in (b"\x09" + blob[1:], blob[:-1], struct.pack("<BH", 2, 0) + b"\0" * 8):
        with pytest.raises(ValueError):
            Fingerprint.from_bytes(bad)
        with pytest.raises(ValueError):
            marks_of(bad)


# Words with joiners (' ’ . - &) and digits at their ends and inside, as sentences end and names are written
_EN_PIECES = ["Tuesday", "U.S", "x86", "3.5", "P&G", "s", "é", "_", *"'’.-&\x01 ,;"]


@given(st.lists(st.sampled_from(_EN_PIECES), max_size=20).map("".join))
def test_en_words_with_joiners_at_chunk_ends_are_the_regex_words(s):
    assert keywords._en_words(s) == keywords._EN_WORD.findall(s)


def reference_keywords_en(title: str, text: str, max_tags: int) -> list[str]:
    """`keywords._keywords_en` before its counting shortcuts (the title's words repeated TITLE_WEIGHT times in
    the count, a set of every token for the forms seen)."""
    stop, never, two_letter = keywords._en_tables()
    lead = text[:keywords.EN_LEAD]
    tokens = keywords._en_words(title)[:keywords._MAX_TOKENS]
    n_title = len(tokens)
    tokens += keywords._en_words(lead)[:keywords._MAX_TOKENS]
    if not tokens:
        return []
    low = " ".join(tokens).lower().split(" ")
    tf: dict[str, int] = {}
    keywords._count_elements(tf, low[n_title:] + low[:n_title] * keywords.TITLE_WEIGHT)
    first = dict(zip(reversed(low), range(len(low) - 1, -1, -1)))
    seen = set(tokens)
    runs = keywords._TITLE_CAPS.findall(". " + title) + keywords._CAP_RUN.findall(". " + lead)
    cap_words = " ".join(runs).split(" ") if runs else []
    cap_low = " ".join(cap_words).lower().split(" ") if runs else []
    caps: dict[str, int] = {}
    keywords._count_elements(caps, cap_low)
    caps_form = dict(zip(cap_low, cap_words))
    distinct = set(first)
    cands = list(distinct.difference(never))
    two = distinct.intersection(two_letter)
    if two:
        cands += [k for k in two if k.upper() in seen]
    cands.sort(key=first.__getitem__)
    score = {w: tf[w] * keywords._CAPS_BONUS[caps.get(w, 0)] * keywords._EARLY[first[w]] for w in cands}
    form: dict[str, str] = {}
    phrases = [run for run in runs if " " in run]
    if phrases:
        keywords._score_phrases(phrases, low, n_title, tf, stop, score, first, form)
        cands = sorted(score, key=first.__getitem__)
    ranked = sorted(cands, key=score.__getitem__, reverse=True)
    if form:
        ranked = keywords._names_over_words(ranked, max_tags)
    out: list[str] = []
    for key in ranked[:max_tags]:
        shown = form.get(key) or caps_form.get(key)
        if shown is None:
            upper = key.upper()
            shown = upper if upper in seen else key if key in seen else tokens[first[key]]
        out.append(shown)
    return out


# English-like words: names, acronyms, two-letter words in either case (US/us, AI/ai), stop words, repeats
_EN_WORDS = ("Federal Reserve Chair Jerome Powell said the US economy us grew 3.5% in Q3 while AI ai stocks rose "
             "Apple's revenue P&G well-known St. Louis the EU's 2024 G20 of and Bank of England rates rates").split()
en_texts = st.lists(st.sampled_from(_EN_WORDS) | st.sampled_from([". ", ", ", "é", "’s"]), max_size=40).map(" ".join)


@given(en_texts, en_texts, st.integers(1, 6))
def test_english_keywords_are_the_reference_scorers(title, text, max_tags):
    assert keywords._keywords_en(title, text, max_tags) == reference_keywords_en(title, text, max_tags)


def test_english_keywords_of_generated_text_are_the_reference_scorers():
    from .test_fast_paths import _texts

    texts = _texts(21, 2000)
    pairs = list(zip(texts[::2], texts[1::2]))
    fast = [keywords._keywords_en(t.strip(), x, 5) for t, x in pairs]
    assert fast == [reference_keywords_en(t.strip(), x, 5) for t, x in pairs]
    assert sum(1 for k in fast if k) > len(pairs) // 2
