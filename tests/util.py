"""Helpers shared by tests: write a tidings.yml, run the CLI in-process, snapshot a directory, read a store's
tables with SQL on either backend."""
from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import yaml

from tidings.cli import main


def write_config(root: Path, sources: list[dict], **settings) -> Path:
    """tidings.yml in `root`; `store=` a SQLite path or PostgreSQL URL (conftest's store_at) for another store."""
    cfg = {"site": {"title": "t", "url": "https://news.example.com/", "timezone": "Asia/Shanghai"},
           "store": "store.db", "hexo": {"dir": "blog", "front_matter": "seed", "clean": True},
           "fetch": {"timeout": 3, "retries": 0}, "sources": sources}
    for key, value in settings.items():
        if isinstance(value, dict) and isinstance(cfg.get(key), dict):
            cfg[key] = {**cfg[key], **value}
        elif value is None:
            cfg.pop(key, None)
        else:
            cfg[key] = value
    path = root / "tidings.yml"
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def cli(*args: str) -> int:
    return main([str(a) for a in args])


def snapshot(root: Path) -> dict[str, int]:
    """relative path -> mtime_ns of every file below root."""
    return {str(p.relative_to(root)): p.stat().st_mtime_ns for p in sorted(root.rglob("*")) if p.is_file()}


def posts(root: Path) -> list[Path]:
    return sorted(p for p in (root / "blog" / "source" / "_posts").rglob("*.md"))


def store_rows(store: str | Path, sql: str, params: tuple | list = ()) -> list[tuple[Any, ...]]:
    """The rows of one SQL statement (`?` parameters) on a store: a SQLite file or a PostgreSQL URL. The tables
    and columns are the same on both; booleans come back as 0/1 from SQLite and as bool from PostgreSQL."""
    if is_pg(store):
        import psycopg

        with psycopg.connect(store, autocommit=True) as conn:
            cur = conn.execute(sql.replace("?", "%s"), params)
            return cur.fetchall() if cur.description else []
    db = sqlite3.connect(store)
    try:
        with db:
            return db.execute(sql, params).fetchall()
    finally:
        db.close()


def store_value(store: str | Path, sql: str, params: tuple | list = ()) -> Any:
    """The first column of the first row of store_rows."""
    return store_rows(store, sql, params)[0][0]


def is_pg(store: str | Path) -> bool:
    """Whether a store location (conftest's store_at) is a PostgreSQL URL."""
    return isinstance(store, str) and store.startswith(("postgresql://", "postgres://"))


def empty_database(url: str) -> None:
    """Delete every row of a tidings database, its schema kept: TRUNCATE every table but the schema version,
    sequences restarted. For Hypothesis tests, whose examples share one database (conftest's fresh_store)."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        tables = [r[0] for r in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'tidings_schema'")]
        if tables:
            conn.execute("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY")


def entry_fields(e: Any) -> dict[str, Any]:
    """A parsed Entry's fields as the feed gives them: the content's UTF-8, which parse keeps only for a cut CDATA
    section, is checked to be that content's encoding when kept, and left out."""
    from dataclasses import asdict

    kept = e.content_utf8_bytes()
    assert kept is None or kept == e.content.encode()
    return {k: v for k, v in asdict(e).items() if k != "content_utf8"}
