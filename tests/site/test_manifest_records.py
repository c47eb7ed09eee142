"""The manifest's file records (plain tuples from Output.record to the store) as the store reads them back: in
memory and through the spool, new, changed and unchanged, on both backends."""
from __future__ import annotations

from tidings.publish.site import manifest
from tidings.store import SiteFile, open_store


def test_records_reach_the_store_as_recorded(tmp_path, store_at, monkeypatch):
    monkeypatch.setattr(manifest, "SPOOL_AT", 7)  # most records go through the spool file
    store = open_store(store_at)
    site = "/site"
    want = {f"a/{k % 5}/{k:04d}.html": SiteFile(f"d{k}", f"f{k}", f"s{k}" if k % 3 else "") for k in range(40)}
    out = manifest.Output(tmp_path, store, site, complete_record=True)
    for path, f in reversed(want.items()):  # (not in path order: flush sorts each batch)
        out.record(path, f.digest, f.fp, True, f.search)
    out.flush()
    assert store.site_files(site) == want and out.files == {}

    # A second build: a third of the files changed, the rest recorded as they were (only the changes go out).
    out = manifest.Output(tmp_path, store, site, complete_record=True)
    changed = {p: SiteFile(f.digest + "x", f.fp, f.search) if k % 3 == 0 else f
               for k, (p, f) in enumerate(want.items())}
    for path, f in changed.items():
        out.record(path, f.digest, f.fp, False, f.search)
    assert out.unchanged == len(changed)
    out.flush()
    assert store.site_files(site) == changed
    store.close()
