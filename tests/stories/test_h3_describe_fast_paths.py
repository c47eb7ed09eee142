"""The describe step's fast paths (brief H3) against the code they short-cut: each must give the same values."""
from __future__ import annotations

from tidings.stories.near import fingerprint_bytes_of, fingerprints_of

from .test_near_batch import LEADS


def test_fingerprint_bytes_are_the_fingerprints_to_bytes():
    expected = [fp.to_bytes() for fp in fingerprints_of(LEADS)]
    assert fingerprint_bytes_of(LEADS) == expected
    assert fingerprint_bytes_of(LEADS[::-1]) == expected[::-1]
    assert fingerprint_bytes_of([]) == []
    # empty fingerprints, marks of several sizes (the packing layout depends on it) and none
    assert any(fp.empty for fp in fingerprints_of(LEADS)) and len({len(fp.marks) for fp in fingerprints_of(LEADS)}) > 3
    for lead, blob in zip(LEADS, expected):
        assert fingerprint_bytes_of([lead]) == [blob]
