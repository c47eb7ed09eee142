"""The story rule as the pipeline runs it: the labelled set through StoryStage on a real store (SQLite and
PostgreSQL), as feeds deliver them, with the candidate caps, the store's story sequence and the band index
in memory (stories/index.py): one item at a time after storing (`group`), feeds of several items before
storing (`assign`, what ingest does), two processes taking turns, a process that starts on a full store,
pruned and deleted members, a rolled-back feed."""
from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tidings.config import StoriesSettings, TagsSettings
from tidings.model import Entry, ItemState, Source
from tidings.store import IngestRow, Store, open_store
from tidings.stories.assign import StoryStage

DATA = Path(__file__).parent / "data" / "labelled.jsonl"
ITEMS = [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines() if line.strip()]
ORDER = sorted(ITEMS, key=lambda o: (o["published"], o["id"]))
SOURCES = {name: Source(url=f"http://feeds.example/{name}", category="c", source=name, channel="")
           for name in sorted({o["source"] for o in ITEMS})}
_DESCRIBED: dict[str, tuple[tuple[str, ...], bytes | None]] = {}


@pytest.fixture(params=["sqlite", "postgres"])
def where(request, tmp_path) -> str:
    return str(tmp_path / "s.db") if request.param == "sqlite" else str(request.getfixturevalue("pg_url"))


@pytest.fixture
def store(where):
    s = open_store(where)
    s.sync_sources(SOURCES.values())
    yield s
    s.close()


def stage() -> StoryStage:
    return StoryStage(StoriesSettings(), TagsSettings())


def row(o: dict) -> IngestRow:
    e = Entry(source_key=SOURCES[o["source"]].key, id=o["id"], title=o["title"], link=f"http://news.example/{o['id']}",
              guid=o["id"], published=datetime.fromtimestamp(o["published"], UTC), content=o["text"])
    if o["id"] not in _DESCRIBED:
        _DESCRIBED[o["id"]] = stage().describe(e, f"<p>{o['text']}</p>")
    words, fp = _DESCRIBED[o["id"]]
    return IngestRow(e, f"<p>{o['text']}</p>", keywords=words, fingerprint=fp)


def ingest(st: StoryStage, store: Store, items: list[dict]) -> None:
    """As jobs._store_feed does: stories found before the items are stored, in the one transaction."""
    with store.transaction():
        store.upsert_entries(st.assign(store, [row(o) for o in items]))


def stories_of(store: Store) -> dict[str, str]:
    return {it.id: it.story for it in store.iter_items(bodies=False)}


def check_quality(story: dict[str, str]) -> None:
    assert set(story) == {o["id"] for o in ITEMS} and all(story.values())
    tp = fp_ = fn = 0
    for a, b in itertools.combinations(ITEMS, 2):
        same = a["cluster"] == b["cluster"]
        pred = story[a["id"]] == story[b["id"]]
        tp += same and pred
        fp_ += pred and not same
        fn += same and not pred
    precision, recall = tp / (tp + fp_), tp / (tp + fn)
    assert precision >= 0.95 and recall >= 0.90, (precision, recall, tp, fp_, fn)
    first: dict[str, str] = {}  # every story is named after its first item
    for o in ORDER:
        first.setdefault(story[o["id"]], o["id"])
    assert all(s == f for s, f in first.items())


@pytest.fixture(scope="module")
def one_by_one(tmp_path_factory) -> dict[str, str]:
    """The stories the labelled set gets one item at a time, each stored, then grouped (SQLite)."""
    with open_store(tmp_path_factory.mktemp("ref") / "s.db") as s:
        s.sync_sources(SOURCES.values())
        st = stage()
        for o in ORDER:
            s.upsert_entries([row(o)])
            st.group(s, SOURCES[o["source"]].key, [o["id"]])
        return stories_of(s)


def test_labelled_set_through_the_store(store, one_by_one):
    st = stage()
    for o in ORDER:
        r = row(o)
        store.upsert_entries([r])
        st.group(store, r.entry.source_key, [o["id"]])
    story = stories_of(store)
    check_quality(story)
    assert story == one_by_one


@pytest.mark.parametrize("size", [7, 40])
def test_feeds_of_several_items_get_the_stories_of_one_at_a_time(store, one_by_one, size):
    """Stories found before storing, a feed of several items at once (earlier items of the feed are
    candidates of later ones): the same stories as one item at a time."""
    st = stage()
    for start in range(0, len(ORDER), size):
        ingest(st, store, ORDER[start:start + size])
    assert stories_of(store) == one_by_one


def test_processes_taking_turns_and_a_new_process_find_each_others_stories(where, store, one_by_one):
    """Two processes (stages, connections) store feeds in turn: each catches up with what the other
    stored; a third starts on the store half full and builds its index from it."""
    other = open_store(where)
    try:
        first, second = stage(), stage()
        half = len(ORDER) // 2
        for k, start in enumerate(range(0, half, 5)):
            ingest(first if k % 2 else second, store if k % 2 else other, ORDER[start:min(start + 5, half)])
        ingest(stage(), other, ORDER[half:])  # a new process: its index is made from the stored fingerprints
    finally:
        other.close()
    assert stories_of(store) == one_by_one


def tight(n: int) -> list[dict]:
    """The first n items of the first labelled story of at least n whose items all pair (same_story)."""
    from tidings.stories.near import fingerprint, same_story

    for cluster in dict.fromkeys(o["cluster"] for o in ORDER):
        members = [o for o in ORDER if o["cluster"] == cluster]
        fps = [fingerprint(o["title"], o["text"]) for o in members]
        if len(members) >= n and all(same_story(x, y) for x, y in itertools.combinations(fps, 2)):
            return members[:n]
    raise AssertionError(f"no labelled story of {n} items that all pair")


def test_pruned_and_filtered_members_are_not_joined(store):
    reposts = tight(4)
    st = stage()
    a, b, c, d = reposts[:4]
    key = {o["id"]: SOURCES[o["source"]].key for o in reposts}
    ingest(st, store, [a])
    store.set_state(key[a["id"]], a["id"], ItemState.PRUNED)
    ingest(st, store, [b])  # its only candidate is gone: it starts a story
    store.set_state(key[b["id"]], b["id"], ItemState.FILTERED)
    ingest(st, store, [c])  # b is filtered out: c starts a story too
    store.set_state(key[b["id"]], b["id"], ItemState.PUBLISHED)
    store.set_state(key[c["id"]], c["id"], ItemState.FILTERED)
    ingest(st, store, [d])  # b is back (a filter changed): d joins its story
    story = stories_of(store)
    assert a["id"] not in story and c["id"] not in story and story[b["id"]] == story[d["id"]] == b["id"]


def test_a_rolled_back_feed_leaves_no_story_behind(store):
    reposts = tight(3)
    st = stage()
    with pytest.raises(RuntimeError), store.transaction():
        store.upsert_entries(st.assign(store, [row(reposts[0])]))
        raise RuntimeError("the feed's transaction fails after its stories were found")
    ingest(st, store, reposts[1:])  # the rolled-back item is no candidate: the first of these starts the story
    story = stories_of(store)
    assert reposts[0]["id"] not in story and {story[o["id"]] for o in reposts[1:]} == {reposts[1]["id"]}


def test_one_stage_on_two_stores_keeps_them_apart(where, request, tmp_path):
    """Two stores of one backend (two SQLite files, two PostgreSQL databases): each has its own story epoch."""
    other = (str(request.getfixturevalue("pg_cluster").create_database()) if where.startswith("postgresql:")
             else str(tmp_path / "b.db"))
    reposts = tight(3)
    st = stage()
    with open_store(where) as a, open_store(other) as b:
        for s in (a, b):
            s.sync_sources(SOURCES.values())
        ingest(st, a, reposts[:1])
        ingest(st, b, reposts[1:2])  # another store (another story epoch): nothing of a's is a candidate
        ingest(st, a, reposts[2:3])
        assert stories_of(b) == {reposts[1]["id"]: reposts[1]["id"]}
        assert stories_of(a) == {reposts[0]["id"]: reposts[0]["id"], reposts[2]["id"]: reposts[0]["id"]}


@pytest.mark.parametrize("shared", [False, True], ids=["processes", "threads-of-one-process"])
def test_workers_storing_reposts_at_once_put_them_in_one_story(where, store, shared):
    """Reposts stored at the same moment by several workers (each with its connection; a stage each, as
    processes have, or one stage, as a worker's concurrent jobs share) never found two stories: the
    store's story lock serialises assignment."""
    import threading

    from tidings.stories.near import fingerprint, same_story

    clusters = []
    for cluster in dict.fromkeys(o["cluster"] for o in ORDER):
        members = [o for o in ORDER if o["cluster"] == cluster]
        fps = [fingerprint(o["title"], o["text"]) for o in members]
        if len(members) > 1 and all(same_story(x, y) for x, y in itertools.combinations(fps, 2)):
            clusters.append(members)
    assert len(clusters) >= 10
    lanes: list[list[dict]] = [[], [], [], []]
    for members in clusters:
        for k, o in enumerate(members):  # a story's items on different lanes, stored at about the same time
            lanes[k % len(lanes)].append(o)
    one = stage()
    errors: list[BaseException] = []

    def work(items: list[dict]) -> None:
        st = one if shared else stage()
        try:
            with open_store(where) as s:
                for o in items:
                    ingest(st, s, [o])
        except BaseException as e:  # noqa: BLE001 - reported by the main thread
            errors.append(e)

    threads = [threading.Thread(target=work, args=(lane,)) for lane in lanes]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    story = stories_of(store)
    assert all(len({story[o["id"]] for o in members}) == 1 for members in clusters)


def test_describe_many_is_describe_of_each():
    """A feed's new items described at once (one rensa call, step by step over the items) give each item
    what it gets alone: Chinese and English mixed, and items without text (empty fingerprints) between them,
    so that a signature landing on the wrong item would show."""
    blank = Entry(source_key="k", id="blank", title="", link="", guid="blank", content="")
    items = [(blank, "")]
    for o in ITEMS:
        e = Entry(source_key="k", id=o["id"], title=o["title"], link="", guid=o["id"], content=o["text"])
        items += [(e, f"<p>{o['text']}</p>"), (blank, "<p> </p>")]
    st = stage()
    together = st.describe_many(items)
    alone = [st.describe(e, html) for e, html in items]
    assert together == alone
    assert len({fp for _, fp in together}) == len(ITEMS) + 1  # every text its own signature; blanks share one
    assert all(words for (e, _), (words, _) in zip(items, together) if e.id != "blank")
