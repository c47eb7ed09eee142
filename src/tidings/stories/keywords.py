"""Keywords (tags) for an item, Chinese or English (SPEC §10): `keywords(title, text, max_tags=5)`.

* Chinese (a third or more of the letters are CJK): rjieba (jieba-rs, jieba's algorithm and dictionary
  in Rust, ~0.2 µs a character against ~4 µs for pure-Python jieba) segments the title and the first
  `ZH_SEGMENT` characters of the text (dictionary only, HMM off); each word is scored TF × IDF with
  jieba's shipped IDF table (words it does not know get the median IDF), where TF counts the word in
  the title ×`TITLE_WEIGHT` and in the first `ZH_LEAD` characters of the text (a substring count).
  Whether a word can be a keyword, and its IDF, is memoised per word (news repeats its words).
* English and other Latin-script text: a small YAKE-like scorer of our own over the title and the first
  `EN_LEAD` characters: words that are not stop words, and runs of capitalised words ("Federal
  Reserve", "Jerome Powell") as phrases; TF (title ×`TITLE_WEIGHT`) × a bonus for capitalised words
  seen mid-sentence × a bonus for appearing early. yake itself takes ~9 ms an item on this machine and
  yake-rust ~0.5 ms, 60 × and 3.5 × the whole per-item budget.
* Never: single characters, pure numbers (or number+unit like "49.5%"), stop words (stopwords_zh.txt:
  news words such as 记者, 表示, 报道; stopwords_en.txt). Ties break on first position then the word,
  so the output is deterministic.

The IDF table (jieba's `analyse/idf.txt`, read as a file: jieba itself is not initialised) and rjieba's
dictionary are loaded lazily, on the first Chinese item (~0.5 s); nothing is cached on disk.
"""
from __future__ import annotations

import array
import importlib.util
import math
import re
import threading
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np
import rjieba

from .near import nfkc, strip_boilerplate

__all__ = ["EN_LEAD", "TITLE_WEIGHT", "ZH_LEAD", "ZH_SEGMENT", "keywords"]

TITLE_WEIGHT = 3
ZH_SEGMENT = 60  # characters of text segmented with the title
ZH_LEAD = 300  # characters of text in which a candidate's occurrences are counted
EN_LEAD = 260

_CJK_RUNS = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff]+")
_NON_LETTER = re.compile(r"[\W\d_]+")
_NUMBERISH = re.compile(r"^[\d.,:%％+\-~/年月日号时分秒万亿千百个点倍元]+$")
_ZH_KEEP = re.compile(r"^(?:[\u3400-\u9fff\uf900-\ufaff]{2,}[\w]*|[A-Za-z][A-Za-z0-9+.\-]*[A-Za-z0-9+])$")


def _words(name: str) -> frozenset[str]:
    text = resources.files(__package__).joinpath(name).read_text(encoding="utf-8")
    return frozenset(w.strip().lower() for w in text.splitlines() if w.strip() and not w.startswith("#"))


@lru_cache(maxsize=1)
def _stop_zh() -> frozenset[str]:
    return _words("stopwords_zh.txt") | _stop_en()


@lru_cache(maxsize=1)
def _stop_en() -> frozenset[str]:
    return _words("stopwords_en.txt")


def _is_cjk_text(s: str) -> bool:
    """A third or more of the letters are CJK."""
    if s.isascii():
        return False
    letters = _NON_LETTER.sub("", s)
    cjk = len(letters) - len(_CJK_RUNS.sub("", letters))
    return cjk > 0 and cjk * 3 >= len(letters)


# --- Chinese ---------------------------------------------------------------------------------------

class IdfTable:
    """jieba's IDF table (270,000 words) in 3 MB instead of ~40 MB as a dict: each word's hash (Python's
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
        h = hash(word)
        i = int(np.searchsorted(self.keys, h))
        return float(self.values[i]) if i < len(self.keys) and self.keys[i] == h else default


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


def _zh_weight(w: str, idf: IdfTable, stop: frozenset[str]) -> float:
    if len(w) < 2 or w in stop or w.lower() in stop or not _ZH_KEEP.match(w) or _NUMBERISH.match(w):
        weight = 0.0
    else:
        weight = idf.get(w, idf.median)
    if len(_ZH_OK) > _ZH_OK_MAX:
        _ZH_OK.clear()
    _ZH_OK[w] = weight
    return weight


def _keywords_zh(title: str, text: str, max_tags: int) -> list[str]:
    stop = _stop_zh()
    idf = _idf if _idf is not None else _load_idf()
    lead = text[:ZH_LEAD]
    ok = _ZH_OK
    scored = []
    # dict.fromkeys: each word once, in order of first position
    for pos, w in enumerate(dict.fromkeys(rjieba.cut(title + "\n" + text[:ZH_SEGMENT], False))):
        weight = ok.get(w)
        if weight is None:
            weight = _zh_weight(w, idf, stop)
        if weight:
            tf = TITLE_WEIGHT * title.count(w) + lead.count(w)
            if tf:
                scored.append((-tf * weight, pos, w))
    scored.sort()
    out: list[str] = []
    for _, _, w in scored:
        if any(w in o or o in w for o in out):  # 制造业 and 制造业PMI: keep the better scored one only
            continue
        out.append(w)
        if len(out) == max_tags:
            break
    return out


# --- English -----------------------------------------------------------------------------------------

_EN_TOKEN = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:['’.\-&][A-Za-z0-9]+)*|[0-9][\w.,%$-]*|[.!?;:()\"“”,—–]")
_SENTENCE_END = frozenset(".!?;:()\"“”")
_BREAK = frozenset(",—–")


def _keywords_en(title: str, text: str, max_tags: int) -> list[str]:
    stop = _stop_en()
    scores: dict[str, float] = {}
    form: dict[str, str] = {}
    first: dict[str, int] = {}
    caps: dict[str, int] = {}
    caps_form: set[str] = set()  # seen capitalised mid-sentence (or as an acronym): a name, keep its case
    lower_seen: set[str] = set()
    pos = 0
    for weight, chunk in ((TITLE_WEIGHT, title), (1, text[:EN_LEAD])):
        start = True  # at the start of a sentence a capital says nothing
        run: list[str] = []

        def flush(run: list[str], weight: int, pos: int) -> None:
            if len(run) >= 2:
                phrase = " ".join(run[:4])
                key = phrase.lower()
                scores[key] = scores.get(key, 0.0) + weight * 2.5
                form.setdefault(key, phrase)
                caps_form.add(key)
                first.setdefault(key, pos)
                caps[key] = caps.get(key, 0) + 1
            run.clear()

        for tokm in _EN_TOKEN.findall(chunk):
            t = tokm.rstrip(".")
            if t.endswith(("'s", "’s")):
                t = t[:-2]
            pos += 1
            if t and t[0] in _BREAK:
                if run:
                    flush(run, weight, pos)
                continue
            if not t or t[0] in _SENTENCE_END or t[0].isdigit():
                if run:
                    flush(run, weight, pos)
                start = not t or t[0] in _SENTENCE_END
                continue
            low = t.lower()
            capital = t[0].isupper() and not start and (weight == 1 or t.isupper())
            start = False
            if low in stop or len(low) < 2 or (len(low) < 3 and not t.isupper()):
                if run:
                    flush(run, weight, pos)
                continue
            if capital:
                run.append(t)
            else:
                if run:
                    flush(run, weight, pos)
            scores[low] = scores.get(low, 0.0) + weight
            if capital or (t.isupper() and len(t) > 1):
                form[low] = t
                caps_form.add(low)
            elif t == low:
                lower_seen.add(low)
            form.setdefault(low, t)
            first.setdefault(low, pos)
            if capital:
                caps[low] = caps.get(low, 0) + 1
        flush(run, weight, pos)
    return _rank_en(scores, form, first, caps, caps_form, lower_seen, max_tags)


def _rank_en(scores: dict[str, float], form: dict[str, str], first: dict[str, int], caps: dict[str, int],
             caps_form: set[str], lower_seen: set[str], max_tags: int) -> list[str]:
    """The best `max_tags` of the words and names _keywords_en scored, each in the case it was seen in."""
    for key in form:
        if " " not in key and key not in caps_form and key in lower_seen:
            form[key] = key
    for key in [k for k in scores if " " in k]:  # a name outranks its words
        words = key.split(" ")
        scores[key] += sum(scores.get(w, 0.0) for w in words) / len(words)
    ranked = []
    for key, tf in scores.items():
        bonus = 1.0 + min(caps.get(key, 0), 3) * 0.25
        early = 1.0 + 1.0 / math.log2(2 + first[key] / 10)
        ranked.append((-tf * bonus * early, first[key], key))
    ranked.sort()
    out: list[str] = []
    taken: list[str] = []
    for _, _, key in ranked:
        if any(key in t.split(" ") or t in key.split(" ") for t in taken if " " in t or " " in key):
            continue
        taken.append(key)
        out.append(form[key])
        if len(out) == max_tags:
            break
    return out


def keywords(title: str, text: str, max_tags: int = 5) -> list[str]:
    """Up to `max_tags` keywords for an item; `text` is its plain text (no HTML)."""
    if max_tags <= 0:
        return []
    title = strip_boilerplate(nfkc(title or "")).strip()
    text = text or ""
    if _is_cjk_text(title + text[:120]):
        return _keywords_zh(title, strip_boilerplate(nfkc(text[: ZH_LEAD + 100])), max_tags)
    return _keywords_en(title, strip_boilerplate(nfkc(text[: EN_LEAD + 100])), max_tags)
