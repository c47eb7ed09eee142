"""StoryStage remembers fingerprints' marks between batches (`_marks_of`): one stage confirming batch after
batch, its memory warm and cleared when full, confirms the same pairs as near.same_story pair by pair."""
from __future__ import annotations

import numpy as np

from tidings.config import StoriesSettings, TagsSettings
from tidings.store import StoryCandidate
from tidings.stories import assign
from tidings.stories.assign import StoryStage
from tidings.stories.near import SIG_PERMS, Fingerprint, same_story, similarity

from .test_assign_confirm import fingerprints


def test_marks_of_is_from_bytes_and_stays_bounded(monkeypatch):
    monkeypatch.setattr(assign, "MARKS_KEPT", 5)
    st = StoryStage(StoriesSettings(), TagsSettings())
    fps = fingerprints(np.random.default_rng(0), 40)
    for fp in fps + fps[::-1]:  # each blob read again after the memory was cleared
        blob = fp.to_bytes()
        assert st._marks_of(blob) == Fingerprint.from_bytes(blob).marks == fp.marks
        assert len(st._marks) <= 5


def test_one_stage_over_many_batches_confirms_the_same_pairs(monkeypatch):
    monkeypatch.setattr(assign, "MARKS_KEPT", 16)  # cleared several times over the batches
    rng = np.random.default_rng(7)
    st = StoryStage(StoriesSettings(), TagsSettings())
    stored_fps = fingerprints(rng, 30)  # stored items, candidates of batch after batch
    stored = {seq: StoryCandidate(seq, "k", f"s{seq}", f"story{seq}", fp.to_bytes(), 900.0 + seq)
              for seq, fp in enumerate(stored_fps, 1)}
    confirmed = 0
    for _ in range(8):
        batch = fingerprints(rng, 6)
        items = [(f"b{k}", 1000.0 + k, fp.to_bytes()) for k, fp in enumerate(batch)]
        live = list(range(len(batch)))
        matrix = np.frombuffer(b"".join(fp.sig for fp in batch), "<u4").reshape(len(batch), SIG_PERMS)
        pairs = [(j, q) for j in live for q in [*(rng.choice(30, 8, replace=False) + 1).tolist(),
                                                *(-1 - i for i in range(j))]]
        got = st._matches(items, [fp.sig for fp in batch], live, matrix, [j for j, _ in pairs],
                          [q for _, q in pairs], stored)
        want: dict[int, list] = {}
        for j, q in pairs:
            theirs = batch[-1 - q] if q < 0 else stored_fps[q - 1]
            if same_story(batch[j], theirs, st.stories.threshold):
                c = (1000.0 - 1 - q, f"b{-1 - q}", -1 - q) if q < 0 else (900.0 + q, f"s{q}", f"story{q}")
                want.setdefault(j, []).append((similarity(batch[j], theirs), *c))
        assert got == want
        confirmed += sum(map(len, want.values()))
    assert confirmed >= 10
