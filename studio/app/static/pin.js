// An image with the numbered markers of its pinned comments; when "edit" is on, a click pins a point and
// a drag pins a box (fractions 0..1 of the image). The pin goes to Python as state "pin":
// {x, y[, w, h], nonce}; a new "nonce" from Python (a comment was posted) clears it.
// Text is set with textContent only.

function el(tag, cls, text) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined && text !== null) node.textContent = text;
  return node;
}

function mark(layer, m, cls) {
  if (m.w && m.h) {
    const b = el("div", "box " + cls);
    b.style.left = `${m.x * 100}%`; b.style.top = `${m.y * 100}%`;
    b.style.width = `${m.w * 100}%`; b.style.height = `${m.h * 100}%`;
    layer.appendChild(b);
  }
  const n = el("div", "num " + cls, m.n === undefined || m.n === null ? "+" : String(m.n));
  n.style.left = `${m.x * 100}%`; n.style.top = `${m.y * 100}%`;
  if (m.title) n.title = m.title;
  layer.appendChild(n);
}

const clamp = (v) => Math.max(0, Math.min(1, v));

export default function (component) {
  const { parentElement, data, setStateValue } = component;
  const stage = parentElement.querySelector(".stage");
  const pic = parentElement.querySelector(".pic");
  const marks = parentElement.querySelector(".marks");
  const draft = parentElement.querySelector(".draft");
  const hint = parentElement.querySelector(".hint");
  const st = parentElement.__pin || (parentElement.__pin = { pin: null, nonce: null, drag: null });
  st.set = setStateValue;
  st.edit = Boolean(data.edit);
  if (pic.getAttribute("src") !== data.src) pic.src = data.src;
  if (data.maxh) stage.style.maxWidth = `min(100%, calc(${data.maxh}px * ${Number(data.ratio) || 1}))`;
  pic.alt = data.alt || "";
  marks.replaceChildren();
  for (const m of data.markers || []) mark(marks, m, m.done ? "done" : "");
  if (st.nonce !== data.nonce) { st.nonce = data.nonce; st.pin = null; }
  const drawDraft = () => {
    draft.replaceChildren();
    if (st.pin) mark(draft, { ...st.pin, n: null }, "new");
  };
  drawDraft();
  stage.classList.toggle("edit", st.edit);
  hint.textContent = st.edit
    ? (st.pin ? (st.pin.w ? "Box pinned: your comment will point at it. Click to pin a point instead, or drag again." : "Point pinned: your comment will point at it. Drag to pin a box instead.")
      : "Click the image to pin a point, or drag to pin a box.")
    : "";
  if (parentElement.__wired) return;
  parentElement.__wired = true;
  const at = (e) => {
    const r = pic.getBoundingClientRect();
    return { x: clamp((e.clientX - r.left) / r.width), y: clamp((e.clientY - r.top) / r.height) };
  };
  const send = () => st.set("pin", st.pin ? { ...st.pin, nonce: st.nonce } : null);
  stage.addEventListener("pointerdown", (e) => {
    if (!st.edit) return;
    e.preventDefault();
    stage.setPointerCapture?.(e.pointerId);
    st.drag = at(e);
    st.pin = { x: st.drag.x, y: st.drag.y };
    drawDraft();
  });
  stage.addEventListener("pointermove", (e) => {
    if (!st.drag) return;
    const p = at(e);
    const x = Math.min(st.drag.x, p.x), y = Math.min(st.drag.y, p.y);
    const w = Math.abs(p.x - st.drag.x), h = Math.abs(p.y - st.drag.y);
    st.pin = w > 0.01 || h > 0.01 ? { x, y, w: Math.max(w, 0.005), h: Math.max(h, 0.005) } : { x: st.drag.x, y: st.drag.y };
    drawDraft();
  });
  const stop = () => {
    if (!st.drag) return;
    st.drag = null;
    if (st.pin && st.pin.w) {  // keep the box inside the image
      st.pin.w = Math.min(st.pin.w, 1 - st.pin.x); st.pin.h = Math.min(st.pin.h, 1 - st.pin.y);
    }
    drawDraft();
    hint.textContent = st.pin && st.pin.w ? "Box pinned: your comment will point at it." : "Point pinned: your comment will point at it.";
    send();
  };
  stage.addEventListener("pointerup", stop);
  stage.addEventListener("pointercancel", stop);
}
