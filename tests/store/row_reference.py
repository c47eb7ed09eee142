"""The one-row reading of a backend's item columns that `store.base.items_from_rows` inlines: the reference its
tests compare with (times as unix seconds; tags and keywords as JSON text)."""
from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from tidings.store import StoredItem


def item_from_row(r: Sequence[Any]) -> StoredItem:
    def utc(ts: float) -> datetime:
        return datetime.fromtimestamp(ts, UTC)

    return StoredItem(r[0], r[1], r[2], r[3], r[4], r[5], utc(r[6]), utc(r[7]) if r[7] is not None else None,
                      utc(r[8]), r[9], r[10], r[11], json.loads(r[12]), r[13], r[14], r[15], r[16], r[17],
                      json.loads(r[18]), r[19])
