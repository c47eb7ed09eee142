"""Stories and keywords at ingest: what each new item gets (keywords, a fingerprint), and the story it joins.

    stage = StoryStage(cfg.stories, cfg.tags)
    keywords, fingerprint = stage.describe(entry, html)   # before the item is stored (IngestRow fields)
    stage.group(store, source_key, ids)                    # after: new items join a story or found one

The story rule is near.Grouper's, on the store: candidates are the published items sharing an LSH band
(`story_bands`) within WINDOW_SECONDS; of those that are one story with the new item (similarity and
figures), it joins the most similar (ties: earliest published, then smallest id); with none, its own id
is its story's id. Story ids never change, so a late member joins the story that already exists.
"""
from __future__ import annotations

import functools
import html as htmllib
import re
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from ..model import Entry
from ..store import Store
from .near import RAW_CAP, WINDOW_SECONDS, Fingerprint, band_keys, fingerprint_of, read_lead, same_story, similarity

if TYPE_CHECKING:
    from ..config import StoriesSettings, TagsSettings

__all__ = ["StoryStage", "plain_text"]

_TAG = re.compile(r"<[^>]*>")
# Items sharing the most bands with a new one are compared with it, at most this many: templated news (a
# daily index report) would otherwise bring hundreds of candidates that share a band or two.
MAX_CANDIDATES = 10
TEXT_HEAD = 4000  # characters of HTML read at most for the lead: fingerprints and keywords use its start only
# Characters of plain text describe needs (near.read_lead reads RAW_CAP), and a margin for what a cut in the
# middle of a tag or an entity leaves at the end.
LEAD_TEXT = RAW_CAP + 24


def plain_text(html: str, limit: int = TEXT_HEAD, need: int = LEAD_TEXT) -> str:
    """The text at the start of an item's HTML (tags dropped, entities decoded, spaces collapsed): at least
    `need` characters of it where there are, read from at most `limit` characters of HTML."""
    size = min(2 * need, limit)
    while True:
        head = html[:size]
        last = size >= len(html) or size >= limit
        if not last and head.rfind("<") > head.rfind(">"):
            # a tag cut in two (or a lone "<": then the text is short and a wider window is read)
            head = head[:head.rfind("<")]
        if "<" in head:
            head = _TAG.sub(" ", head)
        if "&" in head:
            head = htmllib.unescape(head)
        text = " ".join(head.split())
        if len(text) >= need or last:
            return text
        size = min(4 * size, limit)


@functools.cache
def _keywords_of() -> Callable[..., list[str]]:
    from .keywords import keywords_of  # on the first item with tags on; jieba loads on the first Chinese one

    return keywords_of


class StoryStage:
    def __init__(self, stories: StoriesSettings, tags: TagsSettings):
        self.stories, self.tags = stories, tags

    @property
    def enabled(self) -> bool:
        return self.stories.enabled or self.tags.enabled

    def describe(self, entry: Entry, html: str) -> tuple[tuple[str, ...], bytes | None]:
        """(keywords, fingerprint bytes) of an item about to be stored."""
        lead = read_lead(entry.title, plain_text(html or entry.content))  # normalised once, read by both
        words: tuple[str, ...] = ()
        if self.tags.enabled:
            words = tuple(_keywords_of()(lead, max_tags=self.tags.max))
        fp = fingerprint_of(lead).to_bytes() if self.stories.enabled else None
        return words, fp

    def group(self, store: Store, source_key: str, ids: Sequence[str]) -> int:
        """Give each new item of `ids` its story; returns how many joined a story already there."""
        if not self.stories.enabled or not ids:
            return 0
        joined = 0
        with store.transaction():
            for item in store.ungrouped(source_key, ids):
                fp = Fingerprint.from_bytes(item.fingerprint)
                keys = band_keys(fp)
                best: tuple[tuple[float, float, str], str] | None = None
                for c in store.story_candidates(keys, item.published - WINDOW_SECONDS,
                                                item.published + WINDOW_SECONDS, MAX_CANDIDATES):
                    other = Fingerprint.from_bytes(c.fingerprint)
                    if not same_story(fp, other, self.stories.threshold):
                        continue
                    rank = (-similarity(fp, other), c.published, c.id)
                    if best is None or rank < best[0]:
                        best = (rank, c.story)
                joined += best is not None
                store.set_story(source_key, item.id, best[1] if best else item.id, keys, item.published)
        return joined
