// A before/after slider: the "before" image over the "after" one, clipped at the handle. Drag on the
// image, or use the range under it (keyboard: arrows, Home, End).
export default function (component) {
  const { parentElement, data } = component;
  const stage = parentElement.querySelector(".stage");
  const before = parentElement.querySelector(".before");
  const after = parentElement.querySelector(".after");
  const handle = parentElement.querySelector(".handle");
  const range = parentElement.querySelector(".pos");
  if (before.getAttribute("src") !== data.before) before.src = data.before;
  if (after.getAttribute("src") !== data.after) after.src = data.after;
  const ratio = Number(data.ratio) > 0 ? Number(data.ratio) : 1;
  stage.style.aspectRatio = String(ratio);
  stage.style.width = `min(100%, calc(62vh * ${ratio}))`;
  const set = (pct) => {
    const p = Math.max(0, Math.min(100, pct));
    before.style.clipPath = `inset(0 ${100 - p}% 0 0)`;
    handle.style.left = `${p}%`;
    range.value = String(Math.round(p));
    stage.dataset.position = String(Math.round(p));
  };
  set(Number(range.value));
  if (parentElement.__wired) return;
  parentElement.__wired = true;
  const at = (e) => {
    const r = stage.getBoundingClientRect();
    set(((e.clientX - r.left) / r.width) * 100);
  };
  let dragging = false;
  stage.addEventListener("pointerdown", (e) => {
    dragging = true;
    stage.setPointerCapture?.(e.pointerId);
    at(e);
  });
  stage.addEventListener("pointermove", (e) => { if (dragging) at(e); });
  const stop = () => { dragging = false; };
  stage.addEventListener("pointerup", stop);
  stage.addEventListener("pointercancel", stop);
  range.addEventListener("input", () => set(Number(range.value)));
}
