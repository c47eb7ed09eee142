"""BandIndex.candidates' batch pairs from one sort of values (bucket | place) and the PER_BAND cap by a stable
sort (`_newest_kept`), against the lookup as it was (an argsort of the buckets, whose order of equal buckets
is its own, and `_newest_first`): the same candidates in the same order, on generated data and on batches
whose items share buckets and seconds, so that runs of equal (pair, second) are cut by the cap."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tidings.stories import index as index_module
from tidings.stories.index import (
    _BAND_BITS,
    _FILTER_SHIFT,
    _T_MAX,
    MAX_CANDIDATES,
    PER_BAND,
    BandIndex,
    Candidates,
    _counted,
    _equal_counts,
    _expand,
    _newest_first,
    _newest_kept,
    _rank_order,
    _ranks,
    _seconds,
    _window_tails,
    bucket_matrix,
)
from tidings.stories.near import ROWS, SIG_PERMS, WINDOW_SECONDS

from .test_index_reference import T0, generated, index_of


def candidates_before(index: BandIndex, sigs: np.ndarray, pubs: np.ndarray) -> Candidates:
    """BandIndex.candidates as it was: the batch's pairs from np.argsort of its buckets, capped by
    `_newest_first`."""
    n0 = index._fill(-1 - np.arange(len(sigs), dtype=np.int64), pubs, sigs)
    try:
        buckets = bucket_matrix(sigs).ravel()
        since, until = pubs - WINDOW_SECONDS, pubs + WINDOW_SECONDS
        query = np.flatnonzero(index.posted.take(buckets >> _FILTER_SHIFT)) if index.runs else buckets[:0]
        posted = buckets[query]
        of = query >> _BAND_BITS
        lo_q, hi_q = posted | _seconds(since[of]), posted | _seconds(until[of])
        pairs, slots = [], []
        for comp, run_slots in index.runs if len(query) else []:
            pair, slot = _window_tails(comp, run_slots, query, lo_q, hi_q)
            if len(pair):
                pairs.append(pair)
                slots.append(slot)
        order = np.argsort(buckets)
        grouped = buckets[order]
        dup = grouped[1:] == grouped[:-1]
        if dup.any():
            shared = np.zeros(len(grouped), bool)
            shared[1:] = dup
            shared[:-1] |= dup
            at = np.flatnonzero(shared)
            first, last = grouped.searchsorted(grouped[at], "left"), grouped.searchsorted(grouped[at], "right")
            which, pos = _expand(first, last - first)
            query, other = order[at[which]], order[pos] >> _BAND_BITS
            earlier = other < query >> _BAND_BITS
            pairs.append(query[earlier])
            slots.append(n0 + other[earlier])
        if not pairs:
            return Candidates(np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.int64))
        pair, slot = np.concatenate(pairs), np.concatenate(slots)
        pub, item = index.pub[slot], pair >> _BAND_BITS
        inside = (pub >= since[item]) & (pub <= until[item])
        pair, slot, pub = pair[inside], slot[inside], pub[inside]
        if len(pair) and np.bincount(pair).max() > PER_BAND:
            order = _newest_first(pair, pub)
            pair, slot = pair[order], slot[order]
            keep = _ranks(pair) < PER_BAND
            pair, slot = pair[keep], slot[keep]
        item = pair >> _BAND_BITS
        bits = max(index.n - 1, 1).bit_length()
        code, shared_bands = _counted((item << bits) | slot)
        item, slot = code >> bits, code & ((1 << bits) - 1)
        seq = index.seqs[slot]
        if np.bincount(item).max(initial=0) > MAX_CANDIDATES:
            order = _rank_order(item, shared_bands, index.pub[slot], seq)
            keep = _ranks(item[order]) < MAX_CANDIDATES
            item, slot, seq = item[order][keep], slot[order][keep], seq[order][keep]
        return Candidates(item, seq, _equal_counts(index.sig.take(slot, axis=0), index.sig.take(n0 + item, axis=0)))
    finally:
        index.n = n0


def same(got: Candidates, want: Candidates) -> None:
    for g, w in ((got.item, want.item), (got.seq, want.seq), (got.equal, want.equal)):
        assert g.dtype == w.dtype and g.tolist() == w.tolist()


@pytest.fixture
def cut_runs(monkeypatch) -> list[int]:
    """How many lookups found a run of equal (pair, second) cut by PER_BAND (and took the order as it was)."""
    calls: list[int] = []

    def newest_first(pair, pub):
        calls.append(len(pair))
        return _newest_first(pair, pub)

    monkeypatch.setattr(index_module, "_newest_first", newest_first)
    return calls


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("n_batch", [1, 5, 50])
def test_candidates_are_those_of_the_lookup_as_it_was(seed, n_batch, cut_runs):
    rng = np.random.default_rng(seed)
    stored, batch, pubs = generated(rng, 300, n_batch)
    index = index_of(stored, pubs)
    same(index.candidates(batch, pubs), candidates_before(index, batch, pubs))
    assert not cut_runs  # (every time is its own second: no run of equals is cut)


def templated(rng: np.random.Generator, n: int, seconds: int) -> tuple[np.ndarray, np.ndarray]:
    """`n` items sharing a few bands of one template, published within `seconds` seconds (many in one)."""
    template = rng.integers(0, 2**32, SIG_PERMS, dtype=np.uint64).astype(np.uint32)
    sigs = rng.integers(0, 2**32, (n, SIG_PERMS), dtype=np.uint64).astype(np.uint32)
    for s in sigs:
        for band in rng.choice(4, int(rng.integers(1, 5)), replace=False):
            s[band * ROWS:(band + 1) * ROWS] = template[band * ROWS:(band + 1) * ROWS]
    pubs = np.sort(T0 + rng.integers(0, seconds, n) + rng.choice([0.0, 0.25, 0.5], n))
    return sigs, pubs


@pytest.mark.parametrize("seed", range(10))
def test_runs_of_equal_seconds_cut_by_the_cap_are_kept_as_they_were(seed, cut_runs):
    rng = np.random.default_rng(seed)
    stored_sigs, stored_pubs = templated(rng, 40, 4)
    index = BandIndex("e", 0)
    for start in range(0, 40, 10):  # in several runs
        part = slice(start, start + 10)
        index._push(index._append(np.arange(start, start + 10, dtype=np.int64) + 1, stored_pubs[part],
                                  stored_sigs[part]))
    sigs, pubs = templated(rng, 30, 3)
    same(index.candidates(sigs, pubs), candidates_before(index, sigs, pubs))
    assert cut_runs


def test_equal_seconds_not_cut_need_no_order(cut_runs):
    """Eight stored items in one band, newer than the batch's (two in one second: both kept), and a batch in
    that band (its first two in one second: both dropped)."""
    rng = np.random.default_rng(1)
    sigs = rng.integers(0, 2**32, (17, SIG_PERMS), dtype=np.uint64).astype(np.uint32)
    sigs[:, :ROWS] = sigs[0, :ROWS]
    pubs = T0 + np.array([0, 0.5, *range(2, 9), *range(100, 106), 107.25, 107.5], np.float64)
    index = BandIndex("e", 0)
    index._push(index._append(np.arange(1, 9, dtype=np.int64), pubs[9:], sigs[9:]))
    got = index.candidates(sigs[:9], pubs[:9])
    assert not cut_runs and len(got.item)
    same(got, candidates_before(index, sigs[:9], pubs[:9]))


@settings(max_examples=500, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 6), st.sampled_from([0.0, 0.5, 1.0, 2.0, 3.0, 86400.0, -3.0, 2.0**33])),
                max_size=120))
def test_newest_kept_is_what_newest_first_keeps(pairs):
    pair = np.array([p for p, _ in pairs], np.int64)
    pub = np.array([t for _, t in pairs], np.float64)
    order = _newest_first(pair, pub)
    want = order[_ranks(pair[order]) < PER_BAND]
    kept = _newest_kept(pair, pub)
    key = (pair.astype(np.uint64) << np.uint64(32)) | (np.uint64(_T_MAX) - _seconds(pub))
    dropped = np.setdiff1d(np.arange(len(pair)), want)
    cut = bool(np.intersect1d(key[want], key[dropped]).size)  # equal keys on both sides of the cap
    if kept is None:
        assert cut
    else:
        assert not cut
        assert sorted(kept.tolist()) == sorted(want.tolist())
        assert _ranks(pair[kept]).max(initial=0) < PER_BAND and (np.diff(pair[kept]) >= 0).all()
