"""Session 11's cheaper paths of describe, each against the path it replaces, on generated text (English,
Chinese and odd characters): they must give the same words, keywords and bytes."""
from __future__ import annotations

import random
import re

import pytest

from tidings.stories import keywords as kw
from tidings.stories import near

# Characters that decide where an English word starts and ends: letters and digits, the joiners (' ’ . - &),
# the "'s" a word never takes, word characters outside ASCII ("_", "é", "图", a full-width digit) and \x01
# (which the fast path uses as ’ internally)
ODD = list("aBsSxY09 .'’-&;:()\"“”!?_é图０\x01\t\n") + ["'s", "’s", "U.S.", "3.5%", "Paul's", "well-known", "P&G"]
WORDS = ("Federal Reserve Chair Jerome Powell said the U.S. economy grew 3.5% in Q3 while AI stocks rose "
         "Apple's revenue P&G well-known St. Louis the EU's 2024 G20 4th 10-K x86 e.g. naïve café").split()


def _texts(seed: int, n: int) -> list[str]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        if rng.random() < 0.5:
            out.append("".join(rng.choice(ODD) for _ in range(rng.randint(0, 30))))
        else:  # English-like text with odd characters between words
            out.append("".join(rng.choice(WORDS) + rng.choice([" ", " ", " ", ", ", ". ", "’s ", "_", "图", "é"])
                               for _ in range(rng.randint(1, 60))))
    return out


def test_en_words_are_the_regex_words():
    for s in _texts(11, 40000):
        assert kw._en_words(s) == kw._EN_WORD.findall(s), repr(s)


@pytest.mark.parametrize("max_tags", [1, 5])
def test_english_keywords_with_the_fast_words_are_those_of_the_regex(monkeypatch, max_tags):
    texts = _texts(12, 3000)
    pairs = list(zip(texts[::2], texts[1::2]))
    fast = [kw._keywords_en(t.strip(), x, max_tags) for t, x in pairs]
    monkeypatch.setattr(kw, "_en_words", kw._EN_WORD.findall)
    assert fast == [kw._keywords_en(t.strip(), x, max_tags) for t, x in pairs]
    assert sum(1 for k in fast if k) > len(pairs) // 2


# --- boilerplate: the gate scan's branches by first character --------------------------------------------

def test_gate_scan_finds_what_the_flat_alternation_finds():
    flat = re.compile("|".join(map(re.escape, near._GATES)))
    assert flat.pattern != near._GATE_RX.pattern
    rng = random.Random(9)
    pieces = [*near._GATES, *(g[:-1] for g in near._GATES if len(g) > 1), *(g[1:] for g in near._GATES),
              "日", "电", "来源：", "(", ")", " ", "图", "é", "\n", "Reuters", "- ", "By"]
    for _ in range(20000):
        s = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 12)))
        assert near._GATE_RX.findall(s) == flat.findall(s), repr(s)
