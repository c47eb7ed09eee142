"""Keywords are stored with each item: making the scorers cheaper must not change what they return. The
golden hash is of the keywords the scorers gave before they were made cheaper (the code of commit d722e41,
run on this corpus); a change that means to alter keywords must justify it and re-pin."""
from __future__ import annotations

import hashlib
import json
import random
import re
from pathlib import Path

from tidings.stories import keywords as kw
from tidings.stories.keywords import keywords

DATA = Path(__file__).parent / "data" / "labelled.jsonl"
ITEMS = [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines() if line.strip()]


def corpus() -> list[tuple[str, str]]:
    """The labelled items, and 400 made of their sentences shuffled: names split and rejoined, runs with
    stop words, acronyms, possessives, figures and titles that repeat the text, in both languages."""
    rng = random.Random(20261130)
    out = [(o["title"], o["text"]) for o in ITEMS]
    zh = [s for o in ITEMS for s in re.split(r"(?<=[。！？])", o["text"]) if s and re.search("[\u4e00-\u9fff]", s)]
    en = [s for o in ITEMS for s in re.split(r"(?<=[.!?]) ", o["text"]) if s and not re.search("[\u4e00-\u9fff]", s)]
    extra = ["Bank of England", "U.S. Federal Reserve Chair Jerome Powell's", "AI", "UK", "the EU's", "P&G",
             "Apple Inc.", "3.5%", "Q3", "World Health Organization", "St. Louis Fed", "IMF", "New York"]
    for _ in range(200):
        body = rng.sample(zh, k=min(len(zh), rng.randint(1, 6)))
        out.append(((body[0][:rng.randint(6, 24)]).strip("。"), "".join(body)))
        words = " ".join(rng.sample(en, k=min(len(en), rng.randint(1, 6)))).split(" ")
        for _ in range(rng.randint(0, 6)):
            words.insert(rng.randrange(len(words) + 1), rng.choice(extra))
        title = " ".join(w.capitalize() if rng.random() < 0.5 else w for w in words[:rng.randint(3, 12)])
        out.append((title, " ".join(words)))
    return out


GOLDEN = "d4cf0e9f0fd2c644"  # 2,084 lists: max_tags 1, 3, 5 and 8 of each


def test_keywords_are_those_of_the_reference_scorers():
    out = [keywords(t, x, max_tags=n) for t, x in corpus() for n in (1, 3, 5, 8)]
    assert len(out) == 4 * (len(ITEMS) + 400)
    assert hashlib.sha256(json.dumps(out, ensure_ascii=False).encode()).hexdigest()[:16] == GOLDEN


def _names_over_words_reference(ranked: list[str], max_tags: int) -> list[str]:
    """The rule as it was first written: a pair conflicts when one is a word of the other."""
    taken: list[str] = []
    for key in ranked:
        if any(key in t.split(" ") or t in key.split(" ") for t in taken if " " in t or " " in key):
            continue
        taken.append(key)
        if len(taken) == max_tags:
            break
    return taken


def test_names_over_words_is_the_pairwise_rule():
    rng = random.Random(3)
    vocab = ["fed", "reserve", "federal", "powell", "jerome", "bank", "england", "rates", "inflation"]
    for _ in range(3000):
        keys = list(dict.fromkeys(" ".join(rng.sample(vocab, k=rng.choice([1, 1, 2, 3]))) for _ in range(10)))
        for n in (1, 3, 5, 8):
            assert kw._names_over_words(keys, n) == _names_over_words_reference(keys, n), keys


def test_possessive_word_patterns_match_as_the_backtracking_ones():
    backtracking = r"[A-Za-z][A-Za-z0-9]*(?:(?!['’]s\b)['’.\-&][A-Za-z0-9]+)*"
    word, run = re.compile(backtracking), re.compile(kw._CAP_RUN.pattern.replace(kw._WORD[8:], backtracking[8:]))
    assert kw._WORD != backtracking and run.pattern != kw._CAP_RUN.pattern
    rng = random.Random(8)
    alphabet = "aBsS09 .'’-&;:()\"“”!?xY" + "é图"
    for _ in range(20000):
        s = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 24)))
        assert kw._EN_WORD.findall(s) == word.findall(s), s
        assert kw._CAP_RUN.findall(". " + s) == run.findall(". " + s), s


def test_keywords_many_is_keywords_of_each(monkeypatch):
    from tidings.stories.near import read_lead

    leads = [read_lead(t, x) for t, x in corpus()]
    for n in (0, 1, 5, 8):
        monkeypatch.setattr(kw, "_ZH_OK", {})  # a cold memo: every Chinese word weighed in the batch, none alone
        many = kw.keywords_many(leads, n)
        monkeypatch.setattr(kw, "_ZH_OK", {})
        assert many == [kw.keywords_of(lead, n) for lead in leads]
    assert kw.keywords_many([], 5) == []
    assert sum(1 for k in many if k) > len(leads) * 0.9
