"""Session 11's cheaper paths of describe and the story index, each against the path it replaces, on generated
text (English, Chinese and odd characters): they must give the same words, keywords, bytes and index."""
from __future__ import annotations

import math
import random
import re

import numpy as np
import pytest

from tidings.stories import keywords as kw
from tidings.stories import near
from tidings.stories.index import DAY, BandIndex
from tidings.stories.near import EMPTY_SIG, SIG_PERMS, Fingerprint, signature_of, signatures_of

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


T0 = 1_730_419_200.5


# --- the story index: a batch of stored rows read by C calls -------------------------------------------

def _blob(rng: random.Random, kind: str) -> bytes:
    """A stored fingerprint's bytes: this format (marks or none, an empty text's), an older one, or broken."""
    marks = tuple(sorted({rng.choice(["10月", "49.5%", "y2024", "q3", "81.8b", "图０", "é"]) for _ in range(rng.randint(0, 4))}))
    sig = (EMPTY_SIG if kind == "empty" else
           np.array([rng.getrandbits(32) for _ in range(SIG_PERMS)], "<u4").tobytes())
    good = Fingerprint(sig, marks).to_bytes()
    return {"old": b"\x01" + good[1:], "new": b"\x03" + good[1:], "short": good[:-1], "tiny": good[:2]}.get(kind, good)


def _reference_add(index: BandIndex, rows: list[tuple[int, float, bytes]]) -> None:
    """BandIndex.add as it was: one item at a time through signature_of."""
    seqs, pubs, sigs = [], [], []
    for seq, pub, blob in rows:
        sig = signature_of(blob)
        if sig != EMPTY_SIG:
            seqs.append(seq)
            pubs.append(pub)
            sigs.append(sig)
    if sigs:
        matrix = np.frombuffer(b"".join(sigs), dtype="<u4").reshape(len(sigs), SIG_PERMS)
        index._push(index._append(np.array(seqs, np.int64), np.array(pubs, np.float64), matrix))


def _same_index(a: BandIndex, b: BandIndex) -> None:
    assert (a.n, a.seq, a.days) == (b.n, b.seq, b.days)
    for name in ("pub", "seqs", "day", "sig"):
        assert np.array_equal(getattr(a, name)[:a.n], getattr(b, name)[:b.n]), name
    assert len(a.runs) == len(b.runs)
    for (c1, s1), (c2, s2) in zip(a.runs, b.runs):
        assert np.array_equal(c1, c2) and np.array_equal(s1, s2)


@pytest.mark.parametrize("seed", range(6))
def test_index_add_and_catch_up_are_the_item_by_item_reference(seed):
    rng = random.Random(seed)
    fast, ref = BandIndex("e", 0), BandIndex("e", 0)
    seq = 0
    history: list[tuple[int, float, bytes]] = []
    for _ in range(8):
        kinds = ["good"] * rng.randint(0, 30) + ["empty"] * rng.randint(0, 3) + ["old"] * rng.randint(0, 2)
        rng.shuffle(kinds)
        rows = []
        for kind in kinds:
            seq += rng.randint(1, 3)
            rows.append((seq, T0 + rng.uniform(-3, 3) * DAY, _blob(rng, kind)))
        history += rows
        if rng.random() < 0.5:  # a day's read
            fast.add(rows)
            _reference_add(ref, rows)
            day = rng.randint(-3, 3) + int(T0 // DAY)
            fast.days[day] = ref.days[day] = 1
        else:  # a catch-up: only items after the index's seq (rows read before are given again), of loaded days
            rows = sorted(rng.sample(history, min(len(history), 5)) + rows)
            fast.catch_up(seq, iter(rows))
            _reference_add(ref, [r for r in rows if r[0] > ref.seq and math.floor(r[1] / DAY) in ref.days])
            ref.seq = seq
        _same_index(fast, ref)
    assert fast.n > 0


@pytest.mark.parametrize("kind", ["new", "short", "tiny"])
def test_index_add_refuses_a_broken_fingerprint_as_signature_of_does(kind):
    rng = random.Random(1)
    rows = [(1, T0, _blob(rng, "good")), (2, T0, _blob(rng, kind))]
    with pytest.raises(Exception) as expected:
        signature_of(rows[1][2])
    with pytest.raises(type(expected.value), match=str(expected.value)[:20] or None):
        BandIndex("e", 0).add(rows)


def test_signatures_of_is_signature_of_each():
    rng = random.Random(5)
    blobs = [_blob(rng, rng.choice(["good", "good", "empty", "old"])) for _ in range(300)]
    for k in (0, 1, 2, 300):
        assert signatures_of(blobs[:k]).tobytes() == b"".join(map(signature_of, blobs[:k]))
    assert signatures_of([memoryview(b) for b in blobs]).tobytes() == b"".join(map(signature_of, blobs))


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
