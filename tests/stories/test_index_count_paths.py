"""The candidates' (item, slot) codes counted by `_counted` (a sort and the runs of equal values) against
`np.unique(..., return_counts=True)`, which it replaces."""
from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from tidings.stories.index import _counted


@settings(max_examples=500, deadline=None)
@given(st.lists(st.integers(0, 40) | st.integers(0, 2**62), max_size=200))
def test_counted_is_np_unique_with_counts(values):
    codes = np.array(values, np.int64)
    got, want = _counted(codes), np.unique(codes, return_counts=True)
    for g, w in zip(got, want):
        assert g.dtype == w.dtype and g.tolist() == w.tolist()
    assert codes.tolist() == values  # the codes given are left as they were
