"""BandIndex.candidates against a plain-Python statement of its rule, on generated signatures: stored items
over several sorted runs (days loaded one by one, catch-ups), batches whose items pair with earlier ones of
the batch, windows, and bands and items over the PER_BAND and MAX_CANDIDATES caps."""
from __future__ import annotations

import numpy as np
import pytest

from tidings.stories.index import DAY, MAX_CANDIDATES, PER_BAND, BandIndex
from tidings.stories.near import BANDS, ROWS, SIG_PERMS, WINDOW_SECONDS, Fingerprint, band_matrix

T0 = 1_730_419_200.5  # every time is a whole second + 0.5: no two items share a second (ties are not the rule's)


def reference(stored: list[tuple[int, float, np.ndarray]], sigs: np.ndarray, pubs: np.ndarray,
              capped: list[int] | None = None) -> set[tuple]:
    """(item, seq, equal) of every candidate, by the rule in BandIndex.candidates' docstring; `capped`
    collects how many items each band over PER_BAND had."""
    buckets = [set() for _ in range(len(sigs))]  # per new item: its (band bucket → band) pairs
    keys = (band_matrix(sigs).view(np.uint64) >> np.uint64(32)).tolist()
    everyone = [(seq, pub, sig) for seq, pub, sig in stored]
    everyone += [(-1 - j, float(pubs[j]), sigs[j]) for j in range(len(sigs))]
    their_keys = {seq: set((band_matrix(sig[None, :]).view(np.uint64) >> np.uint64(32)).ravel().tolist())
                  for seq, _, sig in everyone}
    out = set()
    for j, p in enumerate(pubs.tolist()):
        shared: dict[int, int] = {}
        for bucket in keys[j]:
            posted = [(pub, seq) for seq, pub, _ in everyone if bucket in their_keys[seq]
                      and p - WINDOW_SECONDS <= pub <= p + WINDOW_SECONDS and (seq >= 0 or -1 - seq < j)]
            if capped is not None and len(posted) > PER_BAND:
                capped.append(len(posted))
            for _, seq in sorted(posted, reverse=True)[:PER_BAND]:  # the most recently published
                shared[seq] = shared.get(seq, 0) + 1
        pub_of = {seq: pub for seq, pub, _ in everyone}
        rank = sorted(shared, key=lambda s: (-shared[s], pub_of[s], s if s >= 0 else 2**62 - s))
        sig_of = {seq: sig for seq, _, sig in everyone}
        for seq in rank[:MAX_CANDIDATES]:
            equal = int(np.count_nonzero(sig_of[seq].astype(np.uint16) == sigs[j].astype(np.uint16)))
            out.add((j, seq, equal))
        buckets[j] = set(keys[j])
    return out


def generated(rng: np.random.Generator, n_stored: int, n_batch: int) -> tuple[list, np.ndarray, np.ndarray]:
    """Stored items and a batch drawn around a few templates: each shares up to 5 of a template's first 12
    bands (templated news: a band shared by more items than PER_BAND in a window)."""
    templates = rng.integers(0, 2**32, (3, SIG_PERMS), dtype=np.uint32)
    seconds = rng.choice(40 * DAY, n_stored + n_batch, replace=False) - 20 * DAY

    def one() -> np.ndarray:
        s = rng.integers(0, 2**32, SIG_PERMS, dtype=np.uint32)
        base = templates[rng.integers(len(templates))]
        for band in rng.choice(12, int(rng.integers(0, 6)), replace=False):
            s[band * ROWS:(band + 1) * ROWS] = base[band * ROWS:(band + 1) * ROWS]
        if rng.random() < 0.3:  # low 16 bits equal beyond the bands: the `equal` count is the index's
            s[BANDS * ROWS:] = (base[BANDS * ROWS:] & 0xFFFF) | (s[BANDS * ROWS:] & 0xFFFF0000)
        return s

    stored = [(k + 1, T0 + float(seconds[k]), one()) for k in range(n_stored)]
    batch = np.stack([one() for _ in range(n_batch)])
    pubs = T0 + seconds[n_stored:].astype(np.float64)
    return stored, batch, np.sort(pubs)


def index_of(stored: list[tuple[int, float, np.ndarray]], pubs: np.ndarray) -> BandIndex:
    """An index holding `stored` in several sorted runs: most of it loaded a day at a time, then caught up
    three times with fewer items each (a run is merged with one not over twice its size)."""
    rows = [(seq, pub, Fingerprint(sig.astype("<u4").tobytes(), ()).to_bytes()) for seq, pub, sig in stored]
    cuts = [len(rows) * 7 // 10, len(rows) * 9 // 10, len(rows) * 97 // 100]
    first = rows[:cuts[0]]
    index = BandIndex("e", len(first))
    every = [*pubs.tolist(), *(pub for _, pub, _ in stored)]  # every day loaded: the windows are the rule's
    index.load_days(every, lambda since, until: [r for r in first if since <= r[1] < until])
    for chunk in (rows[cuts[0]:cuts[1]], rows[cuts[1]:cuts[2]], rows[cuts[2]:]):
        index.catch_up(chunk[-1][0], chunk)
    return index


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("n_batch", [1, 5, 50])
def test_candidates_follow_the_rule(seed, n_batch):
    rng = np.random.default_rng(seed)
    stored, batch, pubs = generated(rng, 300, n_batch)
    index = index_of(stored, pubs)
    assert len(index.runs) > 1
    c = index.candidates(batch, pubs)
    got = set(zip(c.item.tolist(), c.seq.tolist(), c.equal.tolist()))
    assert got == reference(stored, batch, pubs)


def test_caps_and_the_batch_are_exercised():
    """The generated data reaches both caps and pairs items of one batch (else the test above proves little)."""
    rng = np.random.default_rng(3)
    stored, batch, pubs = generated(rng, 300, 50)
    c = index_of(stored, pubs).candidates(batch, pubs)
    assert np.bincount(c.item).max() == MAX_CANDIDATES and (c.seq < 0).any()
    capped: list[int] = []
    reference(stored, batch, pubs, capped)
    assert capped
