"""Helpers shared by tests: write a tidings.yml, run the CLI in-process, snapshot a directory."""
from __future__ import annotations

from pathlib import Path

import yaml

from tidings.cli import main


def write_config(root: Path, sources: list[dict], **settings) -> Path:
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
