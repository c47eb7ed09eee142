"""BandIndex's filling steps against the code they replaced: a batch's postings sorted by one sort of values
(`_append`, when the seconds come in slot order) against the stable argsort of the postings, and
`add_grouped`'s test of the loaded days, a day at a time, against the test of each item's day."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tidings.stories.index import DAY, BandIndex, _seconds, bucket_matrix
from tidings.stories.near import BANDS, SIG_PERMS

T0 = 1_730_419_200.0


def run_before(buckets: np.ndarray, pubs: np.ndarray, n0: int) -> tuple[np.ndarray, np.ndarray]:
    """`_append`'s run as it was: the stable argsort of (bucket | second), slots in item order."""
    comp = (buckets | _seconds(pubs)[:, None]).ravel()
    slots = np.repeat(np.arange(n0, n0 + len(pubs), dtype=np.int32), BANDS)
    order = np.argsort(comp, kind="stable")
    return comp[order], slots[order]


@st.composite
def batches(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Signatures drawn from few values (bands share buckets within and across items) and published times with
    seconds repeated and fractions, sorted or not, after some slots already in use."""
    k = draw(st.integers(1, 30))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    sigs = rng.integers(0, draw(st.sampled_from([2, 3, 2**32 - 1])), (k, SIG_PERMS), dtype=np.uint64).astype(np.uint32)
    second = st.sampled_from([T0, T0 + 0.5, T0 + 1, T0 + 86400.25, -3.0, 2.0**32 + 5])
    pubs = np.array(draw(st.lists(second, min_size=k, max_size=k)), np.float64)
    if draw(st.booleans()):
        pubs.sort()
    return sigs, pubs, np.arange(k, dtype=np.int64) + 1, draw(st.integers(0, 3))


@settings(max_examples=300, deadline=None)
@given(batches())
def test_a_batch_s_run_is_the_stable_argsort_s(args):
    sigs, pubs, seqs, before = args
    index = BandIndex("e", 0)
    if before:
        index._fill(-np.arange(1, before + 1), np.full(before, T0), sigs[:1].repeat(before, axis=0))
    want = run_before(bucket_matrix(sigs), pubs, index.n)
    for buckets in (None, bucket_matrix(sigs)):
        index.n = before
        comp, slots = index._append(seqs, pubs, sigs, buckets)
        assert comp.dtype == want[0].dtype and slots.dtype == want[1].dtype
        assert comp.tolist() == want[0].tolist() and slots.tolist() == want[1].tolist()


def test_a_batch_in_published_order_is_sorted_without_an_argsort(monkeypatch):
    rng = np.random.default_rng(4)
    sigs = rng.integers(0, 3, (20, SIG_PERMS), dtype=np.uint64).astype(np.uint32)  # buckets shared: ties
    pubs = np.sort(T0 + rng.integers(0, 5, 20)).astype(np.float64)
    want = run_before(bucket_matrix(sigs), pubs, 0)

    def argsort(*args, **kwargs):
        raise AssertionError("argsort")

    monkeypatch.setattr(np, "argsort", argsort)
    comp, slots = BandIndex("e", 0)._append(np.arange(20), pubs, sigs)
    assert comp.tolist() == want[0].tolist() and slots.tolist() == want[1].tolist()


def _state(index: BandIndex) -> tuple:
    return (index.n, index.pub[:index.n].tolist(), index.seqs[:index.n].tolist(), index.sig[:index.n].tolist(),
            [(c.tolist(), s.tolist()) for c, s in index.runs], np.flatnonzero(index.posted).tolist())


@pytest.mark.parametrize("loaded", [[], [0], [1], [0, 1], [-1, 0, 1, 2]])
def test_add_grouped_keeps_the_items_of_loaded_days(loaded):
    rng = np.random.default_rng(len(loaded))
    pubs = np.sort(np.array([-0.5, 0.0, 10.0, DAY - 1e-6, DAY, DAY + 5, 2 * DAY - 1e-9, -DAY], np.float64))
    sigs = rng.integers(0, 2**32, (len(pubs), SIG_PERMS), dtype=np.uint64).astype(np.uint32)
    seqs = np.arange(1, len(pubs) + 1, dtype=np.int64)
    got, want = BandIndex("e", 0), BandIndex("e", 0)
    for index in (got, want):
        index.days = dict.fromkeys(loaded, 1)
    got.add_grouped(seqs, pubs, sigs, bucket_matrix(sigs))
    keep = [math.floor(p / DAY) in want.days for p in pubs.tolist()]  # the test as it was
    if any(keep):
        want._push(want._append(seqs[keep], pubs[keep], sigs[keep], bucket_matrix(sigs)[keep]))
    assert _state(got) == _state(want)
