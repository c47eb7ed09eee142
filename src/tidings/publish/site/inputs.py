"""What every page is made from besides its items — templates, static files, the site's config and this
package's code — and its fingerprint, read without Jinja2: a build that finds nothing changed stops before
importing the renderer."""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from . import SiteConfig

HERE = Path(__file__).parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"


def template_dirs(theme_dir: Path | None) -> list[Path]:
    """Where templates are looked up, first match wins (render.environment's search path)."""
    dirs = [theme_dir / "templates", theme_dir] if theme_dir else []
    return [*dirs, TEMPLATES]


def static_files(theme_dir: Path | None) -> dict[str, Path]:
    """name -> file for everything copied to static/ (theme_dir/static/<name> wins)."""
    files = {p.name: p for p in sorted(STATIC.iterdir()) if p.is_file()}
    if theme_dir and (theme_dir / "static").is_dir():
        files.update({p.name: p for p in sorted((theme_dir / "static").iterdir()) if p.is_file()})
    return files


def _templates(theme_dir: Path | None) -> dict[str, Path]:
    """Every template name (as Jinja2's FileSystemLoader lists it) -> the file that wins for it."""
    found: dict[str, Path] = {}
    for d in reversed(template_dirs(theme_dir)):  # later directories lose: overwrite them
        if not d.is_dir():
            continue
        for root, _, names in os.walk(d, followlinks=True):
            for name in names:
                path = Path(root) / name
                found[path.relative_to(d).as_posix()] = path
    return found


def config_text(cfg: SiteConfig) -> str:
    return json.dumps({k: str(v) for k, v in dataclasses.asdict(cfg).items()}, sort_keys=True)


def fingerprint(cfg: SiteConfig) -> str:
    """Changes when anything a page is made from changes, other than its items."""
    theme = Path(cfg.theme_dir) if cfg.theme_dir else None
    h = hashlib.sha256(config_text(cfg).encode())
    for name, path in sorted(_templates(theme).items()):
        h.update(f"\0{name}\0{path}\0".encode())
        h.update(path.read_bytes())
    for name, path in static_files(theme).items():
        h.update(f"\0{name}\0".encode())
        h.update(path.read_bytes())
    for py in sorted(HERE.glob("*.py")):
        h.update(py.read_bytes())
    return h.hexdigest()
