"""BandIndex's lookup steps against the code they replaced, pair for pair and in the same order: a run's
window tails (`_window_tails`: each hit's window start searched for, no 2-D mask of PER_BAND entries), the
newest-first order of the pairs (`_newest_first`, a stable sort unless two keys are equal), and the days the
windows around a batch need (`_window_days`, ranges instead of a set of every window's days)."""
from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from tidings.stories.index import _T_MAX, DAY, PER_BAND, _newest_first, _seconds, _window_days, _window_tails
from tidings.stories.near import WINDOW_SECONDS


def tails_before(comp, run_slots, query, lo_q, hi_q):
    """The lookup's loop body as it was (np.nonzero of the 2-D mask, fancy indexing)."""
    back = np.arange(1, PER_BAND + 1)
    end = comp.searchsorted(hi_q, "right")
    hit = np.flatnonzero((comp[end - 1] >= lo_q) & (end > 0))
    if not len(hit):
        return query[:0], run_slots[:0]
    pos = end[hit, None] - back
    ok = pos >= 0
    pos = np.maximum(pos, 0)
    ok &= comp[pos] >= lo_q[hit, None]
    which, at = np.nonzero(ok)
    return query[hit[which]], run_slots[pos[which, at]]


@st.composite
def run_and_queries(draw: st.DrawFn):
    """A sorted run of (bucket << 32 | second) postings, few buckets and seconds so that windows hold more than
    PER_BAND and postings repeat, and queries of those buckets and others, with windows around them."""
    buckets = st.sampled_from([1, 2, 5, 2**31 + 7])
    second = st.integers(0, 40)
    n = draw(st.integers(1, 80))
    comp = np.sort(np.array([(b << 32) | s for b, s in draw(st.lists(st.tuples(buckets, second), min_size=n,
                                                                         max_size=n))], np.uint64))
    slots = np.array(draw(st.permutations(range(n))), np.int32)
    k = draw(st.integers(0, 30))
    qb = np.array(draw(st.lists(st.sampled_from([1, 2, 3, 5, 2**31 + 7]), min_size=k, max_size=k)), np.uint64)
    lo = np.array(draw(st.lists(st.integers(0, 45), min_size=k, max_size=k)), np.uint64)
    width = np.array(draw(st.lists(st.integers(0, 20), min_size=k, max_size=k)), np.uint64)
    query = np.sort(np.array(draw(st.lists(st.integers(0, 10**4), min_size=k, max_size=k, unique=True)), np.int64))
    shifted = qb << np.uint64(32)
    return comp, slots, query, shifted | lo, shifted | (lo + width)


@settings(max_examples=500, deadline=None)
@given(run_and_queries())
def test_window_tails_are_the_pairs_of_the_loop_they_replace(args):
    got, want = _window_tails(*args), tails_before(*args)
    for g, w in zip(got, want):
        assert g.tolist() == w.tolist()


@settings(max_examples=500, deadline=None)
@given(pairs=st.lists(st.tuples(st.integers(0, 40), st.sampled_from([0.0, 1.0, 1.5, 7.0, 86400.0, 1.7e9, -3.0])),
                      max_size=120), runs=st.integers(1, 4))
def test_newest_first_is_the_order_argsort_gave(pairs, runs):
    """As the lookup hands them over: each run's tails in order (pair, then newest first), run after run."""
    chunks = [sorted(pairs[k::runs], key=lambda p: (p[0], -np.floor(p[1]))) for k in range(runs)]
    flat = [p for chunk in chunks for p in chunk]
    pair = np.array([p for p, _ in flat], np.int64)
    pub = np.array([t for _, t in flat], np.float64)
    key = (pair.astype(np.uint64) << np.uint64(32)) | (np.uint64(_T_MAX) - _seconds(pub))
    assert _newest_first(pair, pub).tolist() == np.argsort(key).tolist()


def days_before(pubs: list[float]) -> set[int]:
    """load_days' set of days as it was: every window's days, one by one."""
    need: set[int] = set()
    for first, last in {(math.floor((p - WINDOW_SECONDS) / DAY), math.floor((p + WINDOW_SECONDS) / DAY))
                        for p in pubs}:
        need.update(range(first, last + 1))
    return need


@settings(max_examples=500, deadline=None)
@given(st.lists(st.one_of(st.floats(-1e10, 1e10), st.integers(-400, 40000).map(lambda d: d * DAY),
                          st.integers(20000, 20060).map(lambda d: d * DAY + edge_offset(d))), max_size=60))
def test_window_days_are_every_window_s_days(pubs):
    ranges = _window_days(np.array(pubs, np.float64))
    days = [d for r in ranges for d in r]
    assert days == sorted(days_before(pubs))  # in order, each once
    assert all(a.stop < b.start for a, b in zip(ranges, ranges[1:]))  # ranges apart: a gap between each


def edge_offset(d: int) -> float:
    return (-1e-6, 0.0, 1e-6, 0.5, 86399.999)[d % 5]
