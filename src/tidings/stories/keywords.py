"""Keywords (tags) for an item, Chinese or English (SPEC §10): `keywords(title, text, max_tags=5)`.

* Chinese (a third or more of the letters are CJK): jieba segments the title and the first
  `ZH_SEGMENT` characters of the text (dictionary only, HMM off); each word is scored TF × IDF with
  jieba's shipped IDF table (words it does not know get the median IDF), where TF counts the word in
  the title ×`TITLE_WEIGHT` and in the first `ZH_LEAD` characters of the text. Segmenting is the cost:
  pure-Python jieba takes ~4 µs a character here, so only the title and the first sentence or two are
  segmented, and a plain substring count finds the words further on.
* English and other Latin-script text: a small YAKE-like scorer of our own over the title and the first
  `EN_LEAD` characters: words that are not stop words, and runs of capitalised words ("Federal
  Reserve", "Jerome Powell") as phrases; TF (title ×`TITLE_WEIGHT`) × a bonus for capitalised words
  seen mid-sentence × a bonus for appearing early. yake itself takes ~9 ms an item on this machine and
  yake-rust ~0.5 ms, 60 × and 3.5 × the whole per-item budget.
* Never: single characters, pure numbers (or number+unit like "49.5%"), stop words (stopwords_zh.txt:
  news words such as 记者, 表示, 报道; stopwords_en.txt). Ties break on first position then the word,
  so the output is deterministic.

jieba is loaded lazily (first Chinese item; ~1 s, or ~0.3 s from its cache) and quietly: its logger is
silenced and its cache goes to `$XDG_CACHE_HOME/tidings` (default ~/.cache/tidings), never the shared
temp directory; if that is not writable, jieba simply does not cache.
"""
from __future__ import annotations

import logging
import math
import os
import re
import threading
import unicodedata
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from .near import strip_boilerplate

__all__ = ["EN_LEAD", "TITLE_WEIGHT", "ZH_LEAD", "ZH_SEGMENT", "keywords"]

TITLE_WEIGHT = 3
ZH_SEGMENT = 48  # characters of text segmented with the title
ZH_LEAD = 300  # characters of text in which a candidate's occurrences are counted
EN_LEAD = 700

_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff]")
_LETTER = re.compile(r"[^\W\d_]")
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
    cjk = len(_CJK.findall(s))
    if not cjk:
        return False
    return cjk * 3 >= len(_LETTER.findall(s))


# --- Chinese ---------------------------------------------------------------------------------------

_jieba_lock = threading.Lock()
_jieba: tuple[Any, dict[str, float], float] | None = None


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "tidings"


def _load_jieba() -> tuple[Any, dict[str, float], float]:
    """(tokenizer, IDF table, median IDF), built once per process."""
    global _jieba
    with _jieba_lock:
        if _jieba is None:
            import jieba

            logging.getLogger("jieba").setLevel(logging.CRITICAL + 1)  # "Building prefix dict…", cache errors
            tok = jieba.Tokenizer()
            cache = _cache_dir()
            try:
                cache.mkdir(parents=True, exist_ok=True)
                writable = os.access(cache, os.W_OK)
            except OSError:
                writable = False
            if writable:
                tok.tmp_dir = str(cache)
                tok.cache_file = f"jieba-{jieba.__version__}.cache"
            else:  # jieba would fall back to the system temp dir: give it a path it cannot write instead
                tok.tmp_dir = os.devnull
                tok.cache_file = "jieba.cache"
            tok.initialize()
            idf: dict[str, float] = {}
            path = Path(jieba.__file__).parent / "analyse" / "idf.txt"
            for line in path.read_text(encoding="utf-8").splitlines():
                word, _, value = line.rpartition(" ")
                if word:
                    idf[word] = float(value)
            median = sorted(idf.values())[len(idf) // 2]
            _jieba = (tok, idf, median)
    return _jieba


def _keywords_zh(title: str, text: str, max_tags: int) -> list[str]:
    tok, idf, median = _load_jieba()
    stop = _stop_zh()
    lead = text[:ZH_LEAD]
    first: dict[str, int] = {}
    for pos, w in enumerate(tok.lcut(title + "\n" + text[:ZH_SEGMENT], HMM=False)):
        w = w.strip()
        if len(w) < 2 or w in first or w.lower() in stop or _NUMBERISH.match(w) or not _ZH_KEEP.match(w):
            continue
        first[w] = pos
    scored = []
    for w, pos in first.items():
        tf = TITLE_WEIGHT * title.count(w) + lead.count(w)
        if tf:
            scored.append((-tf * idf.get(w, median), pos, w))
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
_POSSESSIVE = re.compile(r"['’]s$")


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

        for tokm in _EN_TOKEN.finditer(chunk):
            t = _POSSESSIVE.sub("", tokm.group(0).rstrip("."))
            pos += 1
            if t and t[0] in _BREAK:
                flush(run, weight, pos)
                continue
            if not t or t[0] in _SENTENCE_END or t[0].isdigit():
                flush(run, weight, pos)
                start = not t or t[0] in _SENTENCE_END
                continue
            low = t.lower()
            capital = t[0].isupper() and not start and (weight == 1 or t.isupper())
            start = False
            if low in stop or len(low) < 2 or (len(low) < 3 and not t.isupper()):
                flush(run, weight, pos)
                continue
            if capital:
                run.append(t)
            else:
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
    title = strip_boilerplate(unicodedata.normalize("NFKC", title or "")).strip()
    text = strip_boilerplate(unicodedata.normalize("NFKC", (text or "")[: max(ZH_LEAD, EN_LEAD) + 100]))
    if _is_cjk_text(title + text[:200]):
        return _keywords_zh(title, text, max_tags)
    return _keywords_en(title, text, max_tags)
