"""BandIndex.candidates' cheaper steps against what they replace: the candidate cap's order by one sort key
(`_rank_order` against the lexsort, `_rank_order_reference`), the equal values counted a word at a time
(`_equal_counts` against the byte sum), and the buckets' filter (`posted`: the same candidates as with every
bucket let through, after days are dropped too)."""
from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from tidings.stories.index import (
    _FILTER_SHIFT,
    DAY,
    _equal_counts,
    _rank_order,
    _rank_order_reference,
    _seconds,
)
from tidings.stories.near import SIG_PERMS

from .test_index_reference import generated, index_of, reference

T0 = 1_730_419_200.0


@st.composite
def ranked(draw: st.DrawFn) -> tuple[np.ndarray, ...]:
    """Candidates as np.unique hands them over (items sorted), with bands shared, published times (whole seconds,
    fractions, one second shared, out of uint32's range) and story numbers of stored (> 0) and batch (< 0) items."""
    n = draw(st.integers(0, 60))
    item = np.sort(np.array(draw(st.lists(st.integers(0, 9), min_size=n, max_size=n)), np.int64))
    shared = np.array(draw(st.lists(st.integers(1, 32), min_size=n, max_size=n)), np.int64)
    second = st.sampled_from([T0, T0 + 1, T0 + 0.25, T0 + 0.75, T0 - 86400, -5.5, 0.0, 2.0**32 + 3, 1e12])
    pub = np.array(draw(st.lists(second, min_size=n, max_size=n)), np.float64)
    seq = np.array(draw(st.lists(st.integers(-50, 10**6).filter(bool), min_size=n, max_size=n)), np.int64)
    return item, shared, pub, seq


@settings(max_examples=400, deadline=None)
@given(ranked())
def test_rank_order_is_the_lexsort_when_keys_differ(args):
    got, want = _rank_order(*args), _rank_order_reference(*args)
    item, shared, pub, seq = args
    key = np.stack([item, -shared, pub, np.where(seq < 0, 2**62 - seq, seq)], axis=1)
    # equal rows of all four keys may come in either order; nothing else may differ
    assert (key[got] == key[want]).all()
    if len({tuple(r) for r in key.tolist()}) == len(key):
        assert got.tolist() == want.tolist()


def test_rank_order_falls_back_on_a_shared_second():
    item = np.array([0, 0, 0])
    shared = np.array([2, 2, 2])
    pub = np.array([T0 + 0.75, T0 + 0.25, T0 + 5])  # one second, two times: the integer key ties
    seq = np.array([7, 9, 3])
    assert _rank_order(item, shared, pub, seq).tolist() == [1, 0, 2] == _rank_order_reference(
        item, shared, pub, seq).tolist()


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 40), st.integers(0, 2**32 - 1), st.floats(0.0, 1.0))
def test_equal_counts_are_the_byte_sums(rows, seed, share):
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 4, (rows, SIG_PERMS)).astype(np.uint16)  # few values: many equal by chance too
    b = np.where(rng.random((rows, SIG_PERMS)) < share, a, rng.integers(0, 4, (rows, SIG_PERMS))).astype(np.uint16)
    got = _equal_counts(a, b)
    assert got.dtype == np.int64
    assert got.tolist() == (a == b).view(np.uint8).sum(axis=1, dtype=np.int64).tolist()
    assert _equal_counts(a, a).tolist() == [SIG_PERMS] * rows


def _found(index, batch, pubs) -> set[tuple]:
    c = index.candidates(batch, pubs)
    return set(zip(c.item.tolist(), c.seq.tolist(), c.equal.tolist()))


def test_the_filter_holds_every_bucket_posted_and_skips_only_empty_ones():
    for seed in range(6):
        rng = np.random.default_rng(seed)
        stored, batch, pubs = generated(rng, 300, 50)
        index = index_of(stored, pubs)
        comp = np.concatenate([c for c, _ in index.runs])
        assert set(np.flatnonzero(index.posted).tolist()) == set((comp >> _FILTER_SHIFT).tolist())
        want = reference(stored, batch, pubs)
        assert _found(index, batch, pubs) == want
        index.posted[:] = True  # every query searched, as before the filter
        assert _found(index, batch, pubs) == want


def test_the_filter_is_rebuilt_when_days_are_dropped():
    rng = np.random.default_rng(5)
    stored, batch, pubs = generated(rng, 300, 20)
    index = index_of(stored, pubs)
    days = sorted(index.days)
    index._evict(set(days[: len(days) // 2]))
    comp = np.concatenate([c for c, _ in index.runs])
    assert set(np.flatnonzero(index.posted).tolist()) == set((comp >> _FILTER_SHIFT).tolist())
    kept = [(seq, pub, sig) for seq, pub, sig in stored if int(pub // DAY) in index.days]
    assert len(kept) < len(stored)
    assert _found(index, batch, pubs) == reference(kept, batch, pubs)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(-1e13, 1e13, allow_nan=False) | st.sampled_from([0.0, -0.5, 2.0**32 - 1, 2.0**32]),
                max_size=40))
def test_seconds_are_the_clipped_floors(times):
    pub = np.array(times, np.float64)
    assert _seconds(pub).tolist() == np.clip(np.floor(pub), 0.0, float(2**32 - 1)).astype(np.uint64).tolist()
    assert pub.tolist() == times  # the times given are left as they were
