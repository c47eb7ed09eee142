"""StoryStage.assign on a real store against near.Grouper (the in-memory reference of the story rule) on
generated news: reposts (cut short, a word changed, another headline) and same-template items with other
figures, published over a month (some reposts outside the 7-day window), stored in feeds of several items
(reposts in one feed pair with its earlier items)."""
from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest

from tidings.config import StoriesSettings, TagsSettings
from tidings.model import Entry, Source
from tidings.store import IngestRow, open_store
from tidings.stories.assign import StoryStage
from tidings.stories.near import WINDOW_SECONDS, Grouper, fingerprint

WORDS = ("market bank policy growth export trade council minister report rates inflation index shares "
         "company profit factory energy oil price storm rain harbour court ruling election vote city "
         "budget tax bond yield currency airline rail port steel chip phone school hospital").split()
T0 = 1_764_000_000.0
SOURCE = Source(url="http://feeds.example/gen", category="c", source="gen", channel="")


def generated(seed: int, n: int) -> list[tuple[str, str, str, float]]:
    """(id, title, text, published): stories of 1–5 items, each a repost of the first or a same-template
    item with other figures (not the same story)."""
    rng = random.Random(seed)
    out: list[tuple[str, str, str, float]] = []
    while len(out) < n:
        words = [rng.choice(WORDS) for _ in range(70)]
        figure = rng.randint(10, 99)
        title = " ".join(rng.sample(WORDS, 6))
        start = T0 + rng.uniform(0, 30 * 86400)
        for k in range(rng.randint(1, 5)):
            w = list(words)
            if k and rng.random() < 0.5:
                w[rng.randrange(len(w))] = rng.choice(WORDS)  # a word changed
            if k and rng.random() < 0.3:
                w = w[:rng.randint(40, 70)]  # cut short
            f = figure if rng.random() < 0.8 else figure + rng.randint(1, 9)  # other figures: another event
            t = title if rng.random() < 0.6 else " ".join(rng.sample(WORDS, 6))
            when = start + rng.uniform(0, 3 * 86400) if rng.random() < 0.85 else start + WINDOW_SECONDS + 86400
            out.append((f"g{len(out):04d}", t, f"In {2000 + f} the {' '.join(w)} rose {f}.{k % 2}% in {f} cities", when))
    return out[:n]


@pytest.mark.parametrize(("seed", "size"), [(1, 7), (2, 25), (3, 1)])
def test_assign_gives_the_stories_of_the_reference(tmp_path, seed, size):
    items = generated(seed, 240)
    st = StoryStage(StoriesSettings(), TagsSettings())
    with open_store(tmp_path / "s.db") as store:
        store.sync_sources([SOURCE])
        for start in range(0, len(items), size):
            rows = []
            for item_id, title, text, when in items[start:start + size]:
                e = Entry(source_key=SOURCE.key, id=item_id, title=title, link=f"http://n.example/{item_id}",
                          guid=item_id, published=datetime.fromtimestamp(when, UTC), content=text)
                words, fp = st.describe(e, f"<p>{text}</p>")
                rows.append(IngestRow(e, f"<p>{text}</p>", keywords=words, fingerprint=fp))
            with store.transaction():
                store.upsert_entries(st.assign(store, rows))
        got = {it.id: it.story for it in store.iter_items(bodies=False)}
    ref = Grouper()
    # the order the store assigns them in: feed by feed, in (published, id) order within a feed
    for start in range(0, len(items), size):
        for item_id, title, text, when in sorted(items[start:start + size], key=lambda o: (o[3], o[0])):
            ref.add(item_id, fingerprint(title, text), when)
    want = {item_id: ref.story_of(item_id) for item_id, *_ in items}
    assert got == want
    joined = sum(s != i for i, s in want.items())
    assert joined > 40 and len(set(want.values())) > 60  # stories of several items, and many apart
