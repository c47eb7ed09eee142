// Search page: loads the newest Pagefind shard and merges the others (mergeIndex), then searches as you type.
const box = document.getElementById("search");
const input = document.getElementById("search-input");
const status = document.getElementById("search-status");
const list = document.getElementById("search-results");
const root = new URL(box.dataset.root, location.href);
const bundles = JSON.parse(box.dataset.bundles || "[]").map((b) => new URL(b, root).pathname);
let ready = null;

function load() {
  if (!ready) {
    ready = (async () => {
      if (!bundles.length) return null;
      const pf = await import(bundles[0] + "pagefind.js");
      await pf.options({ baseUrl: root.pathname });
      for (const b of bundles.slice(1)) await pf.mergeIndex(b, { baseUrl: root.pathname });
      await pf.init();
      return pf;
    })();
  }
  return ready;
}

function show(results) {
  list.replaceChildren();
  for (const r of results) {
    const li = document.createElement("li");
    const a = document.createElement("a");
    a.href = r.url;
    a.textContent = (r.meta && r.meta.title) || r.url;
    const h = document.createElement("h3");
    h.append(a);
    const meta = document.createElement("p");
    meta.className = "meta";
    meta.textContent = [r.meta && r.meta.source, r.meta && r.meta.date].filter(Boolean).join(" · ");
    const ex = document.createElement("p");
    ex.innerHTML = r.excerpt; // Pagefind escapes the text and adds <mark>
    li.append(h, meta, ex);
    list.append(li);
  }
}

let seq = 0;
async function run(q) {
  const mine = ++seq;
  const url = new URL(location.href);
  if (q) url.searchParams.set("q", q); else url.searchParams.delete("q");
  history.replaceState(null, "", url);
  if (!q) { list.replaceChildren(); status.textContent = ""; return; }
  status.textContent = box.dataset.loading;
  let pf;
  try {
    pf = await load();
  } catch (e) {
    // A bundle or its WebAssembly that cannot load must not leave "loading…" on screen forever.
    ready = null;
    status.textContent = box.dataset.failed;
    console.error("search index:", e);
    return;
  }
  if (mine !== seq) return;
  if (!pf) { status.textContent = box.dataset.none; return; }
  const search = await pf.search(q);
  const data = await Promise.all(search.results.slice(0, 30).map((r) => r.data()));
  if (mine !== seq) return;
  status.textContent = data.length ? box.dataset.results.replace("{n}", search.results.length) : box.dataset.none;
  show(data);
}

let timer = 0;
input.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(() => run(input.value.trim()), 200); });
const q0 = new URLSearchParams(location.search).get("q");
if (q0) { input.value = q0; run(q0.trim()); }
input.focus();
