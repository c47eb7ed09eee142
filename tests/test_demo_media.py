"""The demo's images come from the built site itself, so they show whatever port serves it. On both store
backends (store_at): the demo's own SQLite file, or a PostgreSQL database through TIDINGS_STORE."""
import threading
import urllib.request

from util import cli, is_pg, store_value

from tidings.publish.site.serve import make_server


def test_demo_images_are_site_relative_and_load_on_another_port(tmp_path, store_at, capsys, monkeypatch):
    if is_pg(store_at):
        monkeypatch.setenv("TIDINGS_STORE", store_at)
    out = tmp_path / "demo"
    assert cli("demo", out, "-q") == 0
    capsys.readouterr()
    if is_pg(store_at):  # the demo's items went to PostgreSQL
        assert store_value(store_at, "select count(*) from items") == 75
    written = [p for p in [*(out / "public").rglob("*"), *(out / "blog" / "source").rglob("*.md")]
               if p.is_file() and p.suffix in (".html", ".md", ".json", ".xml")]
    assert written
    for p in written:
        assert "127.0.0.1:8000/demo-media" not in p.read_text(encoding="utf-8"), p
    posts = "".join(p.read_text(encoding="utf-8") for p in (out / "blog" / "source" / "_posts").rglob("*.md"))
    assert "headimg: '/demo-media/" in posts and 'src="/demo-media/' in posts
    assert (out / "blog" / "source" / "demo-media").is_dir()  # Hexo serves them from its source/ too
    home = (out / "public" / "index.html").read_text(encoding="utf-8")
    image = home.split('src="/demo-media/', 1)[1].split('"', 1)[0]

    server = make_server(out / "public", port=0, verbose=False)  # any port but 8000
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        port = server.server_address[1]
        assert port != 8000
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/demo-media/{image}", timeout=10) as r:
            assert r.status == 200 and r.read().lstrip().startswith(b"<svg")
    finally:
        server.shutdown()
        server.server_close()
