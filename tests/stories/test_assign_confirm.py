"""StoryStage's confirmation of candidate pairs (every pair's equal values counted at once, the marks read
for those over the threshold only) against near.same_story and near.similarity pair by pair; and the row
with its story against dataclasses.replace."""
from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import numpy as np
import pytest

from tidings.config import StoriesSettings, TagsSettings
from tidings.model import Entry, ItemState
from tidings.store import IngestRow, StoryCandidate
from tidings.stories.assign import StoryStage, _with_story
from tidings.stories.near import EMPTY_SIG, SIG_PERMS, Fingerprint, same_story, similarity

MARKS = [(), ("10月",), ("10月", "49.5%"), ("10月", "50.3%"), ("y2024", "q3"), ("y2025", "q3")]


def fingerprints(rng: np.random.Generator, n: int) -> list[Fingerprint]:
    """Signatures around one base, 40–90% of their values its own (a pair shares 16–81% of them: the
    threshold 0.4 falls inside), and marks drawn from a few that agree or conflict."""
    base = rng.integers(0, 2**32, SIG_PERMS, dtype=np.uint32)
    out = []
    for _ in range(n):
        s = rng.integers(0, 2**32, SIG_PERMS, dtype=np.uint32)
        keep = rng.random(SIG_PERMS) < rng.uniform(0.4, 0.9)
        s[keep] = base[keep]
        out.append(Fingerprint(s.astype("<u4").tobytes(), MARKS[int(rng.integers(len(MARKS)))]))
    return out


@pytest.mark.parametrize("seed", range(20))
def test_matches_are_the_pairs_that_are_one_story(seed):
    rng = np.random.default_rng(seed)
    st = StoryStage(StoriesSettings(), TagsSettings())
    batch = fingerprints(rng, 12)
    batch[3] = Fingerprint(EMPTY_SIG, ())  # not live: never a candidate
    items = [(f"b{k}", 1000.0 + k, fp.to_bytes()) for k, fp in enumerate(batch)]
    sigs = [fp.sig for fp in batch]
    live = [k for k, fp in enumerate(batch) if not fp.empty]
    matrix = np.frombuffer(b"".join(sigs[k] for k in live), "<u4").reshape(len(live), SIG_PERMS)
    others = fingerprints(rng, 15)
    old = Fingerprint(EMPTY_SIG, ()).to_bytes()[:3] + bytes(4 * SIG_PERMS)
    old = b"\x01" + old[1:]  # a fingerprint of the older format: read as empty, never the same story
    stored = {seq: StoryCandidate(seq, "k", f"s{seq}", f"story{seq % 4}", fp.to_bytes(), 900.0 + seq)
              for seq, fp in enumerate(others, 1)}
    stored[99] = StoryCandidate(99, "k", "s99", "story99", old, 950.0)
    pairs = [(j, q) for j in range(len(live)) for q in [*stored, 100, *(-1 - i for i in range(j))]
             if rng.random() < 0.6]  # 100: a candidate no longer published (not returned by the store)
    got = st._matches(items, sigs, live, matrix, [j for j, _ in pairs], [q for _, q in pairs], stored)
    want: dict[int, list] = {}
    for j, q in pairs:
        ours = batch[live[j]]
        if q < 0:
            i = live[-1 - q]
            theirs, other = batch[i], (items[i][1], items[i][0], i)
        elif q in stored:
            c = stored[q]
            theirs, other = Fingerprint.from_bytes(c.fingerprint), (c.published, c.id, c.story)
        else:
            continue
        if same_story(ours, theirs, st.stories.threshold):
            want.setdefault(j, []).append((similarity(ours, theirs), *other))
    assert got == want
    assert sum(map(len, want.values())) >= 3 and len(pairs) > 2 * sum(map(len, want.values()))  # both kinds


def test_a_row_with_its_story_is_replace():
    e = Entry(source_key="k", id="i", title="t", link="l", guid="g", content="c",
              published=datetime(2026, 11, 30, tzinfo=UTC))
    row = IngestRow(e, "<p>c</p>", ItemState.FILTERED, True, ("a", "b"), b"fp", None)
    # every field of IngestRow is set to a value that is not its default: a field added later fails here
    assert all(getattr(row, f.name) != f.default for f in dataclasses.fields(IngestRow) if f.name != "story")
    assert [f.name for f in dataclasses.fields(IngestRow)] == [
        "entry", "html", "state", "fulltext", "keywords", "fingerprint", "story"]
    assert _with_story(row, "s") == dataclasses.replace(row, story="s")
