"""The band index in memory (stories/index.py) on made-up signatures: window, caps, batches, days loaded
and dropped, catching up."""
from __future__ import annotations

import numpy as np

from tidings.stories.index import DAY, MAX_CANDIDATES, PER_BAND, BandIndex
from tidings.stories.near import ROWS, SIG_PERMS, WINDOW_SECONDS, Fingerprint

T0 = 1_730_419_200.0  # 2024-11-01 00:00 UTC
RNG = np.random.default_rng(7)


def sig(shared: tuple[int, ...] = (), base: np.ndarray | None = None) -> np.ndarray:
    """A random signature that has the values of `base` in the bands `shared`."""
    s = RNG.integers(0, 2**32 - 1, SIG_PERMS, dtype=np.uint32)
    for band in shared:
        assert base is not None
        s[band * ROWS:(band + 1) * ROWS] = base[band * ROWS:(band + 1) * ROWS]
    return s


def blob(s: np.ndarray) -> bytes:
    return Fingerprint(s.astype("<u4").tobytes(), ()).to_bytes()


def store_rows(items: list[tuple[int, float, np.ndarray]]) -> list[tuple[int, float, bytes]]:
    return [(seq, pub, blob(s)) for seq, pub, s in items]


def loaded(items: list[tuple[int, float, np.ndarray]]) -> BandIndex:
    """An index over `items` (story sequence number, published, signature), every day of them loaded."""
    rows = store_rows(items)
    index = BandIndex("e", max((r[0] for r in rows), default=0))
    index.load_days([pub for _, pub, _ in items], lambda since, until: [r for r in rows if since <= r[1] < until])
    return index


def found(index: BandIndex, query: list[tuple[np.ndarray, float]]) -> list[list[int]]:
    """Per query item, the sequence numbers of its candidates, sorted."""
    c = index.candidates(np.stack([s for s, _ in query]), np.array([p for _, p in query]))
    out: list[list[int]] = [[] for _ in query]
    for item, seq in zip(c.item.tolist(), c.seq.tolist()):
        out[item].append(seq)
    return [sorted(seqs) for seqs in out]


def test_candidates_share_a_band_within_the_window():
    q = sig()
    near = [(1, T0 - 3600, sig((5,), q)), (2, T0 + 6 * DAY, sig((0, 1), q))]
    far = [(3, T0 - WINDOW_SECONDS - 1, sig(tuple(range(32)), q)), (4, T0, sig())]
    index = loaded(near + far)
    assert found(index, [(q, T0)])[0] == [1, 2]
    c = index.candidates(q[None, :], np.array([T0]))
    assert sorted(c.equal.tolist()) == [ROWS, 2 * ROWS]  # values shared: the bands copied (random ones aside)


def test_per_band_the_most_recently_published_then_the_most_bands_shared():
    q = sig()
    one_band = [(k + 1, T0 - (12 - k) * 3600, sig((0,), q)) for k in range(12)]  # seq 12 is the newest
    assert found(loaded(one_band), [(q, T0)])[0] == list(range(12 - PER_BAND + 1, 13))
    # item k shares k + 1 bands, each band fewer than PER_BAND items
    starts = np.cumsum([0, *range(1, 15)])
    many = [(k + 1, T0 - 3600, sig(tuple(int(starts[k] + j) % 32 for j in range(k + 1)), q)) for k in range(15)]
    assert found(loaded(many), [(q, T0)])[0] == list(range(16 - MAX_CANDIDATES, 16))
    # as many bands each: the earliest published, then the earliest given a story
    ties = [(k + 1, T0 - 3600 * (k % 3), sig((2 * k, 2 * k + 1), q)) for k in range(14)]
    assert found(loaded(ties), [(q, T0)])[0] == sorted([3, 6, 9, 12, 2, 5, 8, 11, 14, 1])


def test_a_batch_sees_its_earlier_items_only():
    a = sig()
    b = sig((1, 2, 9), a)
    c = sig((4,), b)
    index = loaded([(1, T0, sig((9,), a))])
    # a: the stored item; b: a (3 bands), then the stored item (1); c: b only (a batch item is -1 - its place)
    assert found(index, [(a, T0), (b, T0 + 1), (c, T0 + 2)]) == [[1], [-1, 1], [-2]]
    assert found(index, [(c, T0 + 2), (b, T0 + 1)]) == [[], [-1, 1]]  # in the order given: c comes first
    assert len(index) == 1  # the batch's own items are not kept: they are read back once stored


def test_days_dropped_and_loaded_again_give_the_same_candidates():
    q = sig()
    items = [(k + 1, T0 + (k - 20) * 2 * DAY, sig((k % 32,), q)) for k in range(40)]  # 7 in a window
    rows = store_rows(items)

    def read(since: float, until: float) -> list[tuple[int, float, bytes]]:
        return [r for r in rows if since <= r[1] < until]

    index = BandIndex("e", 40)
    index.load_days([T0], read)
    before = found(index, [(q, T0)])[0]
    assert before == [seq for seq, pub, _ in items if abs(pub - T0) <= WINDOW_SECONDS]
    index.load_days([T0 + 100 * DAY], read)
    index._evict({d for d in index.days if d < (T0 + 50 * DAY) // DAY})
    assert len(index) == 0 and found(index, [(q, T0 + 100 * DAY)]) == [[]]
    index.load_days([T0], read)
    assert found(index, [(q, T0)])[0] == before and len(index) == len(before)


def test_catching_up_adds_the_items_of_loaded_days_once():
    q = sig()
    index = loaded([(1, T0, sig((0,), q))])
    later = store_rows([(1, T0, sig((0,), q)), (2, T0 + 60, sig((1,), q)), (3, T0 + 60 * DAY, sig((2,), q))])
    index.catch_up(3, later)  # 1: already read; 3: its day is not loaded (read with it when a window needs it)
    assert index.seq == 3 and len(index) == 2 and found(index, [(q, T0)])[0] == [1, 2]
