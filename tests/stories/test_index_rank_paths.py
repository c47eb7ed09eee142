"""The candidate cap's order when candidates tie on (item, bands shared, published second): `_rank_order` puts
each run of equal sort keys in order by the lexsort's last keys instead of sorting every candidate by the
lexsort (`_rank_order_reference`); the order must be the lexsort's, equal candidates included."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tidings.stories import index as index_module
from tidings.stories.index import _rank_order, _rank_order_reference

from .test_index_lookup_paths import ranked

T0 = 1_730_419_200.0


@st.composite
def tied(draw: st.DrawFn) -> tuple[np.ndarray, ...]:
    """Few items, bands shared and seconds: most candidates share their sort key with others; fractions of a
    second, times out of uint32's range, story numbers repeated, stored and the batch's."""
    n = draw(st.integers(0, 80))
    item = np.sort(np.array(draw(st.lists(st.integers(0, 3), min_size=n, max_size=n)), np.int64))
    shared = np.array(draw(st.lists(st.integers(1, 3), min_size=n, max_size=n)), np.int64)
    second = st.sampled_from([T0, T0 + 0.25, T0 + 0.75, T0 + 1, -5.5, -1.0, 2.0**32 + 3, 2.0**33])
    pub = np.array(draw(st.lists(second, min_size=n, max_size=n)), np.float64)
    seq = np.array(draw(st.lists(st.sampled_from([-3, -2, -1, 1, 2, 7, 2**40]), min_size=n, max_size=n)), np.int64)
    return item, shared, pub, seq


@settings(max_examples=500, deadline=None)
@given(tied() | ranked())
def test_rank_order_is_the_lexsort_s(args):
    assert _rank_order(*args).tolist() == _rank_order_reference(*args).tolist()


def test_tied_candidates_are_not_all_lexsorted(monkeypatch):
    item = np.array([0, 0, 0, 0, 1, 1, 1])
    shared = np.array([2, 2, 2, 3, 1, 1, 1])
    pub = np.array([T0 + 0.75, T0 + 0.25, T0 + 0.25, T0 + 9, T0, T0, T0 - 1])  # ties in the integer key
    seq = np.array([7, 9, 3, 4, -2, 5, 6])
    want = _rank_order_reference(item, shared, pub, seq).tolist()
    assert want == [3, 2, 1, 0, 6, 5, 4]

    def lexsort_all(*args):
        raise AssertionError("the reference's lexsort")

    monkeypatch.setattr(index_module, "_rank_order_reference", lexsort_all)
    assert _rank_order(item, shared, pub, seq).tolist() == want


def test_items_past_the_key_s_bits_take_the_lexsort():
    item = np.array([0, 1 << 25])
    args = (item, np.array([1, 1]), np.array([T0, T0]), np.array([2, 1]))
    assert _rank_order(*args).tolist() == _rank_order_reference(*args).tolist() == [0, 1]


@pytest.mark.parametrize("n", [0, 1])
def test_few_candidates(n):
    args = (np.zeros(n, np.int64), np.ones(n, np.int64), np.full(n, T0), np.ones(n, np.int64))
    assert _rank_order(*args).tolist() == list(range(n))
