"""The story rule as the pipeline runs it: the labelled set through StoryStage on a real store (SQLite and
PostgreSQL), one item at a time as feeds deliver them, with the candidate cap and the SQL of the store."""
from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tidings.config import StoriesSettings, TagsSettings
from tidings.model import Entry, Source
from tidings.stories.assign import StoryStage

DATA = Path(__file__).parent / "data" / "labelled.jsonl"
ITEMS = [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.fixture(params=["sqlite", "postgres"])
def store(request, tmp_path):
    from tidings.store import open_store

    where = tmp_path / "s.db" if request.param == "sqlite" else request.getfixturevalue("pg_url")
    s = open_store(where)
    yield s
    s.close()


def test_labelled_set_through_the_store(store):
    from tidings.store import IngestRow

    stage = StoryStage(StoriesSettings(), TagsSettings())
    sources = {name: Source(url=f"http://feeds.example/{name}", category="c", source=name, channel="")
               for name in sorted({o["source"] for o in ITEMS})}
    store.sync_sources(sources.values())
    for o in sorted(ITEMS, key=lambda o: (o["published"], o["id"])):
        src = sources[o["source"]]
        e = Entry(source_key=src.key, id=o["id"], title=o["title"], link=f"http://news.example/{o['id']}",
                  guid=o["id"], published=datetime.fromtimestamp(o["published"], UTC), content=o["text"])
        words, fp = stage.describe(e, f"<p>{o['text']}</p>")
        store.upsert_entries([IngestRow(e, f"<p>{o['text']}</p>", keywords=words, fingerprint=fp)])
        stage.group(store, src.key, [e.id])
    story = {it.id: it.story for it in store.iter_items(bodies=False)}
    assert len(story) == len(ITEMS) and all(story.values())
    tp = fp_ = fn = 0
    for a, b in itertools.combinations(ITEMS, 2):
        same = a["cluster"] == b["cluster"]
        pred = story[a["id"]] == story[b["id"]]
        tp += same and pred
        fp_ += pred and not same
        fn += same and not pred
    precision, recall = tp / (tp + fp_), tp / (tp + fn)
    assert precision >= 0.95 and recall >= 0.90, (precision, recall, tp, fp_, fn)
    # every story is named after its first item
    first = {}
    for o in sorted(ITEMS, key=lambda o: (o["published"], o["id"])):
        first.setdefault(story[o["id"]], o["id"])
    assert all(s == f for s, f in first.items())
