// The History grid: one component for the whole page of tiles (justified rows, no per-tile widgets).
// A click on an image opens it; hover actions favourite, select and open; a stack's badge expands its
// variants in place. Every action goes to Python as one trigger, "act": {op, id, n} (a folded stack's
// select also sends "ids": all its variants, so selecting the stack selects every one of them).
// User text is set with textContent only, never parsed as HTML.

const REVIEW = { approved: "✓ Approved", changes: "✎ Changes requested", rejected: "✕ Rejected" };

function el(tag, cls, text) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined && text !== null) node.textContent = text;
  return node;
}

function button(cls, text, title, onClick) {
  const b = el("button", "act " + cls, text);
  b.type = "button";
  b.title = title;
  b.setAttribute("aria-label", title);
  b.addEventListener("click", (e) => { e.stopPropagation(); onClick(); });
  return b;
}

function tile(t, ctx, opts) {
  const ratio = Math.max(0.3, Math.min(3.5, (t.w || 1) / (t.h || 1)));
  const node = el("div", "tile");
  node.dataset.id = String(t.id);
  node.style.flexGrow = String(ratio);
  node.style.flexBasis = `${Math.round(ratio * ctx.row)}px`;
  node.setAttribute("role", "button");
  node.tabIndex = 0;
  node.setAttribute("aria-label", `Open generation ${t.id}`);
  const ids = opts.ids || [t.id];  // a folded stack stands for all its variants
  const picked = ids.every((id) => ctx.selected.has(id));
  if (picked) node.classList.add("sel");
  if (opts.variant) node.classList.add("variant");
  const img = el("img");
  img.alt = t.prompt || `Generation ${t.id}`;
  img.decoding = "async";
  img.loading = ctx.index < 12 ? "eager" : "lazy";
  if (ctx.index < 6) img.fetchPriority = "high";
  img.src = t.src;
  img.width = t.w; img.height = t.h;
  node.appendChild(img);
  node.addEventListener("click", () => ctx.send("open", t.id));
  node.addEventListener("keydown", (e) => { if (e.key === "Enter") ctx.send("open", t.id); });
  if (t.fav) node.appendChild(el("span", "fav", "★"));
  if (t.review) {
    const label = REVIEW[t.review] || t.review;
    const rv = el("span", "rv " + t.review, label);
    rv.title = label;
    node.appendChild(rv);
  }
  const acts = el("div", "acts");
  const what = ids.length > 1 ? ` all ${ids.length} variants` : "";
  acts.appendChild(button("check", picked ? "✓" : "○", (picked ? "Unselect" : "Select") + what, () => ctx.send("select", t.id, ids)));
  acts.appendChild(button("star" + (t.fav ? " on" : ""), t.fav ? "★" : "☆", t.fav ? "Unfavourite" : "Favourite", () => ctx.send("star", t.id)));
  acts.appendChild(button("open", "⤢", "Open", () => ctx.send("open", t.id)));
  node.appendChild(acts);
  if (opts.count > 1) {
    node.classList.add("stack");
    const badge = el("button", "badge", `${opts.count}`);
    badge.type = "button";
    badge.title = `${opts.count} variants: show them`;
    badge.setAttribute("aria-label", `Show ${opts.count} variants`);
    badge.addEventListener("click", (e) => { e.stopPropagation(); ctx.expand(t.id); });
    node.appendChild(badge);
  }
  if (opts.collapse) {
    const c = el("button", "badge collapse", "−");
    c.type = "button";
    c.title = "Stack the variants again";
    c.addEventListener("click", (e) => { e.stopPropagation(); ctx.expand(opts.collapse); });
    node.appendChild(c);
  }
  node.appendChild(el("div", "cap", t.prompt || ""));
  const foot = el("div", "foot");
  if (t.rating) foot.appendChild(el("span", "stars", "★".repeat(t.rating)));
  for (const name of t.tags || []) foot.appendChild(el("span", "tag", name));
  node.appendChild(foot);
  ctx.index += 1;
  return node;
}

function render(root, data, send, state) {
  const box = root.querySelector(".grid");
  box.replaceChildren();
  box.style.setProperty("--row", `${data.row || 260}px`);
  const ctx = {
    row: data.row || 260,
    selected: new Set(data.selected || []),
    send,
    index: 0,
    expand: (id) => {
      if (state.expanded.has(id)) state.expanded.delete(id); else state.expanded.add(id);
      render(root, data, send, state);
    },
  };
  if ((data.chips || []).length) {
    const chips = el("div", "chips");
    for (const c of data.chips) {
      const chip = el("button", `chip ${c.status}` + (ctx.selected.has(c.id) ? " sel" : ""));
      chip.type = "button";
      chip.dataset.id = String(c.id);
      chip.title = `#${c.id} · ${c.label}${c.kind ? " · " + c.kind : ""} — open`;
      chip.appendChild(el("span", "st", c.label));
      chip.appendChild(el("span", "p", `#${c.id} ${c.prompt || ""}`));
      chip.addEventListener("click", () => send("open", c.id));
      chips.appendChild(chip);
    }
    box.appendChild(chips);
  }
  const rows = el("div", "rows");
  for (const g of data.groups || []) {
    const first = g.tiles[0];
    if (g.tiles.length > 1 && state.expanded.has(first.id)) {
      g.tiles.forEach((t, i) => rows.appendChild(tile(t, ctx, { variant: true, collapse: i === 0 ? first.id : null })));
    } else {
      rows.appendChild(tile(first, ctx, { count: g.tiles.length, ids: g.tiles.map((t) => t.id) }));
    }
  }
  box.appendChild(rows);
  if (!(data.groups || []).length && !(data.chips || []).length) box.appendChild(el("div", "empty", data.empty || ""));
}

export default function (component) {
  const { parentElement, data, setTriggerValue } = component;
  const state = parentElement.__grid || (parentElement.__grid = { expanded: new Set(), sig: null, n: 0 });
  state.set = setTriggerValue;
  const send = (op, id, ids) => { state.n += 1; state.set("act", { op, id, n: state.n, ...(ids ? { ids } : {}) }); };
  // "ready" only asks for one report: its change alone must not redraw the tiles under the pointer.
  const sig = JSON.stringify({ ...data, ready: undefined });
  if (sig !== state.sig) {
    state.sig = sig;
    render(parentElement, data, send, state);
  }
  if (!state.watching) {
    // A page link clicked before "ready" goes: the browser would send "ready" under the page it still
    // shows (until the server starts the clicked page's run), and that newer request would replace the
    // click's run. So "ready" waits: dropped if the page changes, sent if this one is still here later.
    state.watching = true;
    const doc = parentElement.ownerDocument;
    const onClick = (e) => {
      if (!parentElement.isConnected) { doc.removeEventListener("click", onClick, true); return; }
      const link = e.target instanceof Element ? e.target.closest("a[href]") : null;
      if (!link || parentElement.contains(link) || link.target === "_blank") return;
      const to = new URL(link.href, doc.baseURI);
      const here = doc.defaultView.location;
      if (to.origin === here.origin && to.pathname !== here.pathname) state.left = here.pathname;
    };
    doc.addEventListener("click", onClick, true);
  }
  if (data.ready && (!state.readySent || state.left)) {
    // Images first: say when the first thumbnails are painted, so the page draws its other controls.
    state.readySent = true;
    state.left = false;
    const first = [...parentElement.querySelectorAll(".tile img")].slice(0, 6);
    const loaded = first.map((img) => (img.complete ? Promise.resolve() : new Promise((ok) => {
      img.addEventListener("load", ok, { once: true });
      img.addEventListener("error", ok, { once: true });
    })));
    const painted = Promise.all(loaded).then(() => new Promise((ok) => requestAnimationFrame(() => requestAnimationFrame(ok))));
    // Not after a click: its run draws the rest too, and a second run sent meanwhile would carry the
    // address from before the click (Streamlit sends the URL with each run) and undo what it opened.
    const report = () => {
      if (state.n) return;
      const from = state.left;
      if (!from) { send("ready", 0); return; }
      // After a page link: still here, at the same address, long after? Then the page did not change.
      setTimeout(() => {
        const still = parentElement.isConnected && state.left === from;
        if (still && parentElement.ownerDocument.defaultView.location.pathname === from) { state.left = false; report(); }
      }, 5000);
    };
    Promise.race([painted, new Promise((ok) => setTimeout(ok, 2000))]).then(report);
  }
}
