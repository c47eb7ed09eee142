"""Keywords (tags) for an item, Chinese or English (SPEC §10): `keywords(title, text, max_tags=5)`.

* Chinese (a third or more of the letters are CJK): rjieba (jieba-rs, jieba's algorithm and dictionary
  in Rust, far cheaper than pure-Python jieba: docs/decisions.md) segments the title and the first
  `ZH_SEGMENT` characters of the text (dictionary only, HMM off); each word is scored TF × IDF with
  jieba's shipped IDF table (words it does not know get the median IDF), where TF counts the word in
  the title ×`TITLE_WEIGHT` and in the first `ZH_LEAD` characters of the text (a substring count).
  Whether a word can be a keyword, and its IDF, is memoised per word (news repeats its words).
* English and other Latin-script text: a small YAKE-like scorer of our own over the title and the first
  `EN_LEAD` characters: words that are not stop words, and runs of words capitalised mid-sentence
  ("Federal Reserve", "Jerome Powell") as phrases; TF (title ×`TITLE_WEIGHT`) × a bonus for capitalised
  words seen mid-sentence × a bonus for appearing early. Tokens, counts and runs come from regexes and
  C-level counting, so that Python works per distinct word, not per token. yake and yake-rust cost many times the
  whole per-item budget (docs/decisions.md).
* Never: single characters, pure numbers (or number+unit like "49.5%"), stop words (stopwords_zh.txt:
  news words such as 记者, 表示, 报道; stopwords_en.txt). Ties break on first position then the word,
  so the output is deterministic.

The IDF table (jieba's `analyse/idf.txt`, read as a file: jieba itself is not initialised) and rjieba's
dictionary are loaded lazily, on the first Chinese item; nothing is cached on disk.
"""
from __future__ import annotations

import array
import importlib.util
import math
import re
import threading

# Counter's own C loop, on a plain dict: a Counter costs a Python __init__ and update (an ABC check) per call
from collections import _count_elements  # type: ignore[attr-defined]  # private, not in typeshed's stubs
from collections.abc import Sequence
from functools import lru_cache
from importlib import resources
from itertools import filterfalse, repeat
from pathlib import Path

import numpy as np
import rjieba

from .near import Lead, read_lead

__all__ = ["EN_LEAD", "TITLE_WEIGHT", "ZH_LEAD", "ZH_SEGMENT", "keywords", "keywords_many", "keywords_of"]

TITLE_WEIGHT = 3
ZH_SEGMENT = 60  # characters of text segmented with the title
ZH_LEAD = 300  # characters of text in which a candidate's occurrences are counted
EN_LEAD = 260

_NUMBERISH = re.compile(r"^[\d.,:%％+\-~/年月日号时分秒万亿千百个点倍元]+$")
_ZH_KEEP = re.compile(r"^(?:[\u3400-\u9fff\uf900-\ufaff]{2,}[\w]*|[A-Za-z][A-Za-z0-9+.\-]*[A-Za-z0-9+])$")
# A word that can be a keyword (two or more characters, as _ZH_KEEP says) and is not _NUMBERISH: one match, not two
_ZH_CAN_BE = re.compile("(?!" + _NUMBERISH.pattern[1:] + ")" + _ZH_KEEP.pattern[1:])


def _words(name: str) -> frozenset[str]:
    text = resources.files(__package__).joinpath(name).read_text(encoding="utf-8")
    return frozenset(w.strip().lower() for w in text.splitlines() if w.strip() and not w.startswith("#"))


@lru_cache(maxsize=1)
def _stop_zh() -> frozenset[str]:
    return _words("stopwords_zh.txt") | _stop_en()


@lru_cache(maxsize=1)
def _stop_en() -> frozenset[str]:
    return _words("stopwords_en.txt")


# --- Chinese ---------------------------------------------------------------------------------------

class IdfTable:
    """jieba's IDF table (270,000 words) as two arrays, a fraction of a dict's size: each word's hash (Python's
    `hash`, so within this process only) sorted in one int64 array, its IDF beside it in float32. Built
    line by line, so reading it never holds the whole file either."""

    def __init__(self, path: Path) -> None:
        keys, values = array.array("q"), array.array("f")
        with path.open(encoding="utf-8") as f:
            for line in f:
                word, _, value = line.rstrip("\n").rpartition(" ")
                if word:
                    keys.append(hash(word))
                    values.append(float(value))
        order = np.argsort(np.frombuffer(keys, dtype=np.int64), kind="stable")
        self.keys = np.frombuffer(keys, dtype=np.int64)[order]
        self.values = np.frombuffer(values, dtype=np.float32)[order]
        self.median = float(np.median(self.values))

    def get(self, word: str, default: float) -> float:
        return self.get_many([word], default)[0]

    def get_many(self, words: list[str], default: float) -> list[float]:
        """The IDF of each word (`default` for a word not in the table), in one vectorised look-up."""
        h = np.fromiter(map(hash, words), dtype=np.int64, count=len(words))
        i = np.minimum(np.searchsorted(self.keys, h), len(self.keys) - 1)
        found: list[float] = np.where(self.keys[i] == h, self.values[i], np.float32(default)).tolist()
        return found


_idf_lock = threading.Lock()
_idf: IdfTable | None = None


def _load_idf() -> IdfTable:
    """jieba's IDF table, read once per process; rjieba's dictionary is loaded with it."""
    global _idf
    with _idf_lock:
        if _idf is None:
            spec = importlib.util.find_spec("jieba")  # only its shipped analyse/idf.txt: jieba is not imported
            assert spec is not None and spec.submodule_search_locations
            _idf = IdfTable(Path(next(iter(spec.submodule_search_locations))) / "analyse" / "idf.txt")
            rjieba.cut("预热", False)
    return _idf


_ZH_OK: dict[str, float] = {}  # word → its IDF, or 0.0 when it is never a keyword (memo: words recur)
_ZH_OK_MAX = 50_000


def _zh_weigh(words: list[str], idf: IdfTable, ok: dict[str, float]) -> None:
    """Memoise in `ok` the weight of each of `words`: its IDF, or 0.0 when it is never a keyword."""
    stop = _stop_zh()
    keep = [w for w in filter(_ZH_CAN_BE.match, set(words).difference(stop)) if w.lower() not in stop]
    weights = dict.fromkeys(words, 0.0)
    if keep:
        weights.update(zip(keep, idf.get_many(keep, idf.median)))
    ok.update(weights)  # in one step: another thread must never see a word's 0.0 before its IDF


def _zh_memo(segmented: list[dict[str, None]]) -> dict[str, float]:
    """The word memo, with every word of `segmented` (each an item's words) in it: the words no item before
    had are weighed together, in one look-up in the IDF table."""
    global _ZH_OK
    idf = _idf if _idf is not None else _load_idf()
    ok = _ZH_OK
    if len(ok) > _ZH_OK_MAX:
        # A new memo, not a cleared one: a worker's other threads may be between their look-ups in the old.
        ok = _ZH_OK = {}
    new = set().union(*segmented).difference(ok) if len(segmented) > 1 else set(segmented[0]).difference(ok)
    if new:
        _zh_weigh(list(new), idf, ok)
    return ok


def _zh_segment(title: str, text: str) -> dict[str, None]:
    """The words of the title and the first ZH_SEGMENT characters, each once, in order of first position."""
    return dict.fromkeys(rjieba.cut(title + "\n" + text[:ZH_SEGMENT], False))


def _keywords_zh(title: str, text: str, max_tags: int, words: dict[str, None], ok: dict[str, float]) -> list[str]:
    """An item's keywords from its `words` (`_zh_segment`) and `ok`, the memo holding them (`_zh_memo`)."""
    # The title TITLE_WEIGHT times and the lead, cut apart by NUL (never in a candidate: _ZH_CAN_BE): one count a
    # word is TITLE_WEIGHT × its count in the title + its count in the lead, since no occurrence spans a cut.
    both = "\x00".join([title] * TITLE_WEIGHT + [text[:ZH_LEAD]])
    # Scores in one comprehension (its method calls and subscripts are specialised bytecodes: cheaper than maps
    # over bound methods); every word segmented is in the title or the lead, so its TF is at least 1. The
    # stable sort keeps ties in order of first position.
    cands = list(filter(ok.__getitem__, words))
    score = [both.count(c) * ok[c] for c in cands]
    out: list[str] = []
    # (a reverse sort is stable too: the highest first, ties in their order)
    for w in map(cands.__getitem__, sorted(range(len(cands)), key=score.__getitem__, reverse=True)):
        for o in out:  # (a loop, not any() of a generator: a generator's frame a word cost more than its tests)
            if w in o or o in w:  # 制造业 and 制造业PMI: keep the better scored one only
                break
        else:
            out.append(w)
            if len(out) == max_tags:
                break
    return out


# --- English -----------------------------------------------------------------------------------------

# A possessive 's is not part of a word. The quantifiers are possessive (*+, ++): what follows a word's letters can
# never use one of them, so the matches are the same, and the regex engine keeps no state to backtrack into.
_WORD = r"[A-Za-z][A-Za-z0-9]*+(?:(?!['’]s\b)['’.\-&][A-Za-z0-9]++)*+"
_EN_WORD = re.compile(_WORD)
# `_en_words` cuts the text into chunks of the characters a word can hold (ASCII letters and digits, the joiners)
# by C calls (one translate, one split) instead of one regex match a word; only a chunk that is not all letters
# goes to _EN_WORD. ’ (not ASCII) travels through the translate as \x01.
_JOINERS = "'’.-&"
_CHUNK_BYTES = bytes(c if chr(c).isascii() and chr(c).isalnum() or chr(c) in "'.-&\x01" else 32 for c in range(256))
_JOINERS_IN_CHUNK = _JOINERS + "\x01"
_NOT_LETTER_IN_CHUNK = "0123456789" + _JOINERS_IN_CHUNK
# A chunk that ends in 's before a word character outside ASCII's letters and digits ("_", "é"): there the
# regex reads no word boundary, so the joiner is part of the word; the text is then read by the regex
_S_BEFORE_WORD = re.compile(r"['’]s(?=[^\WA-Za-z0-9])")
# Words capitalised mid-sentence, in runs ("Federal Reserve Chair Jerome Powell"): not after a sentence's end
# (at its start a capital says nothing; the text gets ". " in front, so that its start is one too) nor
# inside a word. The look-behinds follow the capital so that the regex engine can skip ahead to capitals.
_CAP_RUN = re.compile(r"[A-Z](?<![.!?;:()\"“”] [A-Z])(?<![.!?;:()\"“”A-Za-z0-9'’.\-&][A-Z])" + _WORD[8:]
                      + "(?: [A-Z]" + _WORD[8:] + ")*")
# In a title, where every word may be capitalised, only an acronym mid-title counts as a name.
_TITLE_CAPS = re.compile(r"[A-Z](?<![.!?;:()\"“”] [A-Z])(?<![.!?;:()\"“”A-Za-z0-9'’.\-&][A-Z])"
                         r"[A-Z0-9]+(?:['’.\-&][A-Z0-9]+)*(?![A-Za-z0-9])")
_MAX_TOKENS = 512  # of the title, and of the lead
_EARLY = [1.0 + 1.0 / math.log2(2 + i / 10) for i in range(2 * _MAX_TOKENS + 1)]  # a word first seen at token i
_CAPS_BONUS = [1.0, 1.25, 1.5] + [1.75] * (2 * _MAX_TOKENS)  # by how often it is capitalised mid-sentence
_PHRASE = 2.5  # score of one occurrence of a run of names, on top of its words' mean
_ALNUM = "abcdefghijklmnopqrstuvwxyz0123456789"
_SHORT = frozenset([a for a in _ALNUM[:26]] + [a + b for a in _ALNUM[:26] for b in _ALNUM])  # ≤ 2 letters


@lru_cache(maxsize=1)
def _en_tables() -> tuple[frozenset[str], frozenset[str], frozenset[str]]:
    """(stop words, what is never a single-word candidate: stop words and words of ≤ 2 letters, the 2-letter
    words that are one when seen in upper case: "US", "AI")."""
    stop = _stop_en()
    return stop, stop | _SHORT, frozenset(k for k in _SHORT if len(k) == 2) - stop


def _en_words(s: str) -> list[str]:
    """`_EN_WORD.findall(s)`, the same words (tests/stories/test_fast_paths.py)."""
    if "\x01" in s or (("'s" in s or "’s" in s) and _S_BEFORE_WORD.search(s)):
        return _EN_WORD.findall(s)
    chunks = s.replace("’", "\x01").encode("ascii", "replace").translate(_CHUNK_BYTES).decode("ascii").split()
    if "".join(chunks).isalpha():  # every chunk a word of letters: the words are the chunks
        return chunks
    words: list[str] = []
    for chunk in chunks:
        if chunk.isalpha():
            words.append(chunk)
            continue
        # Joiners at a chunk's ends join nothing: "Tuesday." (a sentence's last word) is the word "Tuesday"
        core = chunk.strip(_JOINERS_IN_CHUNK)
        if core.isalpha():
            words.append(core)
        elif core.strip(_NOT_LETTER_IN_CHUNK):  # a chunk without letters holds no word
            words += _EN_WORD.findall(chunk.replace("\x01", "’"))
    return words


def _keywords_en(title: str, text: str, max_tags: int) -> list[str]:
    stop, never, two_letter = _en_tables()
    lead = text[:EN_LEAD]
    tokens = _en_words(title)[:_MAX_TOKENS]
    n_title = len(tokens)
    tokens += _en_words(lead)[:_MAX_TOKENS]
    if not tokens:
        return []
    # Counting is done on one lower-cased copy, by C code; Python then works per distinct word only.
    joined = " ".join(tokens)
    low = joined.lower().split(" ")
    tf: dict[str, int] = {}  # every key is there: [k] is dict's own
    _count_elements(tf, low)
    for w in low[:n_title]:  # the title's words counted TITLE_WEIGHT times (fewer entries than repeating them)
        tf[w] += TITLE_WEIGHT - 1
    first = dict(zip(reversed(low), range(len(low) - 1, -1, -1)))  # word → the index of its first token
    # A form was seen when " form " is in here (tokens hold no spaces): a few searches, not a set of every token
    seen = " " + joined + " "
    runs = _TITLE_CAPS.findall(". " + title) + _CAP_RUN.findall(". " + lead)  # the lead's forms win
    cap_text = " ".join(runs)
    cap_words = cap_text.split(" ") if runs else []
    cap_low = cap_text.lower().split(" ") if runs else []
    caps: dict[str, int] = {}
    _count_elements(caps, cap_low)
    caps_form = dict(zip(cap_low, cap_words))  # a name (or an acronym), shown in the case it was seen in
    cands = _en_candidates(tf, first, seen, never, two_letter)
    # One comprehension (its subscripts are specialised bytecodes: cheaper than a chain of maps over bound
    # methods); the products in the same order, so the same floats. Ties (sorted stably) go to the earlier word.
    caps_bonus, early = _CAPS_BONUS, _EARLY
    score = {w: tf[w] * caps_bonus[caps.get(w, 0)] * early[first[w]] for w in cands}
    form: dict[str, str] = {}
    phrases = [run for run in runs if " " in run]
    if phrases:
        _score_phrases(phrases, low, n_title, tf, stop, score, first, form)
        cands = sorted(score, key=first.__getitem__)
    ranked = sorted(cands, key=score.__getitem__, reverse=True)  # reverse keeps ties in order (stable)
    if form:
        ranked = _names_over_words(ranked, max_tags)
    out: list[str] = []
    for key in ranked[:max_tags]:
        shown = form.get(key) or caps_form.get(key)
        if shown is None:
            upper = key.upper()
            shown = upper if f" {upper} " in seen else key if f" {key} " in seen else tokens[first[key]]
        out.append(shown)
    return out


def _en_candidates(tf: dict[str, int], first: dict[str, int], seen: str, never: frozenset[str],
                   two_letter: frozenset[str]) -> list[str]:
    """The words of `tf` that can be keywords, in order of first position (`first`): not in `never`, or a
    two-letter word `seen` in upper case. tf's keys are in that order already (_count_elements inserts them as
    it meets them), so only the two-letter words taken need a sort."""
    cands = list(filterfalse(never.__contains__, tf))
    two = two_letter.intersection(tf)
    taken = [k for k in two if f" {k.upper()} " in seen] if two else None
    if taken:
        cands += taken
        cands.sort(key=first.__getitem__)
    return cands


def _score_phrases(phrases: list[str], low: list[str], n_title: int, tf: dict[str, int], stop: frozenset[str],
                   score: dict[str, float], first: dict[str, int], form: dict[str, str]) -> None:
    """Add runs of names ("Federal Reserve") to `score`, `first` and `form` (the case it is shown in)."""
    found: list[str] = []
    for run in phrases:  # a run's stop words ("Bank of England" has none: "of" is lower case) split it
        words = run.split(" ")
        lows = run.lower().split(" ")
        if stop.isdisjoint(lows) and min(map(len, lows)) > 2:  # nearly always: the whole run
            found.append(" ".join(words[:4]))
            continue
        part: list[str] = []
        for w in words + [""]:
            key = w.lower()
            if key and key not in stop and (len(key) > 2 or len(key) == 2 and w.isupper()):
                part.append(w)
                continue
            if len(part) >= 2:
                found.append(" ".join(part[:4]))
            part = []
    count: dict[str, int] = {}
    _count_elements(count, found)
    for phrase, n in count.items():
        key = phrase.lower()
        words = key.split(" ")
        s = _PHRASE * n + sum(map(tf.get, words, repeat(0))) / len(words)
        try:  # where the run ends, as the reader meets it: its last word's first place in the lead
            pos = low.index(words[-1], n_title) + 1
        except ValueError:  # not in the lead's first _MAX_TOKENS words
            pos = len(low)
        score[key] = s * _CAPS_BONUS[n] * _EARLY[pos]
        first[key] = pos
        form[key] = phrase


def _names_over_words(ranked: list[str], max_tags: int) -> list[str]:
    """The first `max_tags` of `ranked` where a name outranks its own words and a word the names it is in (two
    names never exclude each other): a word is left out when a name taken has it, a name when it has a word
    taken."""
    taken: list[str] = []
    words_taken: set[str] = set()  # single words taken
    in_names_taken: set[str] = set()  # the words of the names taken
    for key in ranked:
        if " " in key:
            words = key.split(" ")
            if not words_taken.isdisjoint(words):
                continue
            in_names_taken.update(words)
        elif key in in_names_taken:
            continue
        else:
            words_taken.add(key)
        taken.append(key)
        if len(taken) == max_tags:
            break
    return taken


def keywords(title: str, text: str, max_tags: int = 5) -> list[str]:
    """Up to `max_tags` keywords for an item; `text` is its plain text (no HTML)."""
    if max_tags <= 0:
        return []
    return keywords_of(read_lead(title, text), max_tags)


def keywords_of(lead: Lead, max_tags: int = 5) -> list[str]:
    """Up to `max_tags` keywords from an item's normalised title and lead (`near.read_lead`)."""
    return keywords_many([lead], max_tags)[0]


def keywords_many(leads: Sequence[Lead], max_tags: int = 5) -> list[list[str]]:
    """`keywords_of` of each lead, the same lists: a feed's Chinese items segmented first, and the words none of
    them had before weighed together (one IDF look-up a feed, not one an item with a new word)."""
    if max_tags <= 0:
        return [[] for _ in leads]
    zh = [k for k, lead in enumerate(leads) if lead.cjk]
    out = [[] if lead.cjk else _keywords_en(lead.title.strip(), lead.text, max_tags) for lead in leads]
    if zh:
        titles = [leads[k].title.strip() for k in zh]
        segmented = [_zh_segment(title, leads[k].text) for title, k in zip(titles, zh)]
        ok = _zh_memo(segmented)
        for k, title, words in zip(zh, titles, segmented):
            out[k] = _keywords_zh(title, leads[k].text, max_tags, words, ok)
    return out
