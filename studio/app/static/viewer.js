// Zoom (wheel, buttons, + - 0 keys) and pan (drag) of one image; arrows press the dialog's
// Previous/Next buttons so stepping goes through Streamlit like a click.
function wire(root) {
  const stage = root.querySelector(".stage");
  const pic = root.querySelector(".pic");
  const label = root.querySelector(".zoom");
  const v = { scale: 1, x: 0, y: 0, drag: null };
  const apply = () => {
    pic.style.transform = `translate(${v.x}px, ${v.y}px) scale(${v.scale})`;
    label.textContent = `${Math.round(v.scale * 100)}%`;
  };
  const fit = () => {
    if (!pic.naturalWidth) return;
    const s = Math.min(stage.clientWidth / pic.naturalWidth, stage.clientHeight / pic.naturalHeight, 1);
    v.scale = s;
    v.x = (stage.clientWidth - pic.naturalWidth * s) / 2;
    v.y = (stage.clientHeight - pic.naturalHeight * s) / 2;
    apply();
  };
  const zoomAt = (factor, cx, cy) => {
    const next = Math.min(16, Math.max(0.05, v.scale * factor));
    v.x = cx - (cx - v.x) * (next / v.scale);
    v.y = cy - (cy - v.y) * (next / v.scale);
    v.scale = next;
    apply();
  };
  const centre = (f) => zoomAt(f, stage.clientWidth / 2, stage.clientHeight / 2);
  pic.addEventListener("load", fit);
  stage.addEventListener("wheel", (e) => {
    e.preventDefault();
    const r = stage.getBoundingClientRect();
    zoomAt(e.deltaY < 0 ? 1.15 : 1 / 1.15, e.clientX - r.left, e.clientY - r.top);
  }, { passive: false });
  stage.addEventListener("pointerdown", (e) => {
    stage.setPointerCapture?.(e.pointerId);
    v.drag = { x: e.clientX - v.x, y: e.clientY - v.y };
    stage.classList.add("drag");
  });
  stage.addEventListener("pointermove", (e) => {
    if (!v.drag) return;
    v.x = e.clientX - v.drag.x;
    v.y = e.clientY - v.drag.y;
    apply();
  });
  const stop = () => { v.drag = null; stage.classList.remove("drag"); };
  stage.addEventListener("pointerup", stop);
  stage.addEventListener("pointercancel", stop);
  root.querySelector(".in").addEventListener("click", () => centre(1.25));
  root.querySelector(".out").addEventListener("click", () => centre(0.8));
  root.querySelector(".fit").addEventListener("click", fit);
  return { pic, centre, fit };
}

function press(name) {
  const button = document.querySelector(`.st-key-${name} button`);
  if (button && !button.disabled) button.click();
}

export default function (component) {
  const { parentElement, data } = component;
  let view = parentElement.__viewer;
  if (!view || view.pic !== parentElement.querySelector(".pic")) {
    view = wire(parentElement);
    parentElement.__viewer = view;
  }
  if (view.pic.getAttribute("src") !== data.src) view.pic.src = data.src;
  const onKey = (e) => {
    const tag = (e.target && e.target.tagName) || "";
    if (tag === "INPUT" || tag === "TEXTAREA" || e.ctrlKey || e.metaKey || e.altKey) return;
    if (e.key === "ArrowLeft") press("gen_view_prev");
    else if (e.key === "ArrowRight") press("gen_view_next");
    else if (e.key === "+" || e.key === "=") view.centre(1.25);
    else if (e.key === "-") view.centre(0.8);
    else if (e.key === "0") view.fit();
    else return;
    e.preventDefault();
  };
  if (window.__studioViewerKeys) document.removeEventListener("keydown", window.__studioViewerKeys);
  window.__studioViewerKeys = onKey;
  document.addEventListener("keydown", onKey);
  return () => {
    document.removeEventListener("keydown", onKey);
    if (window.__studioViewerKeys === onKey) window.__studioViewerKeys = null;
  };
}
