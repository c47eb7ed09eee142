"""item_keywords rows inserted many to a statement (sqlite._insert_keywords) are the rows one statement a row
inserts: every count of rows around the statement sizes, repeated rows (INSERT OR IGNORE) included."""
from __future__ import annotations

import sqlite3

from hypothesis import given, settings
from hypothesis import strategies as st

from tidings.store.sqlite import _KEYWORD_ROWS_AT_ONCE, _insert_keywords, migrate

ROW = st.tuples(st.sampled_from(["央行", "利率", "PMI", "Fed", "a\"b", "x"]), st.sampled_from([0.0, 1.5, 1.7e9]),
                st.sampled_from(["i1", "i2", "i3"]), st.sampled_from(["k1", "k2"]))


def table_after(rows: list[tuple[str, float, str, str]], many: bool) -> list[tuple]:
    db = sqlite3.connect(":memory:", isolation_level=None)
    migrate(db)
    if many:
        _insert_keywords(db, [v for row in rows for v in row])
    else:
        db.executemany("INSERT OR IGNORE INTO item_keywords(word, published, id, source_key) VALUES (?, ?, ?, ?)",
                       rows)
    return db.execute("SELECT word, published, id, source_key FROM item_keywords ORDER BY 1, 2, 3, 4").fetchall()


@settings(max_examples=150, deadline=None)
@given(rows=st.lists(ROW, max_size=3 * _KEYWORD_ROWS_AT_ONCE[0] + 9))
def test_many_rows_a_statement_insert_what_one_a_statement_does(rows):
    assert table_after(rows, many=True) == table_after(rows, many=False)


def test_every_count_of_rows_is_inserted_whole():
    for n in range(2 * _KEYWORD_ROWS_AT_ONCE[0] + 10):
        rows = [(f"w{k}", float(k), f"i{k}", "k") for k in range(n)]
        assert table_after(rows, many=True) == sorted(rows)
