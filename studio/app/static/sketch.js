// A small drawing board: pen and arrow strokes over a blank page or an image, undo, clear.
// "Add to references" sends {png, instruction}; the studio appends the instruction to the prompt.
function drawArrow(ctx, s) {
  const [a, b] = [s.points[0], s.points[s.points.length - 1]];
  const angle = Math.atan2(b.y - a.y, b.x - a.x);
  const head = Math.max(12, s.width * 3);
  ctx.beginPath();
  ctx.moveTo(a.x, a.y);
  ctx.lineTo(b.x, b.y);
  ctx.lineTo(b.x - head * Math.cos(angle - 0.45), b.y - head * Math.sin(angle - 0.45));
  ctx.moveTo(b.x, b.y);
  ctx.lineTo(b.x - head * Math.cos(angle + 0.45), b.y - head * Math.sin(angle + 0.45));
  ctx.stroke();
}

function drawStroke(ctx, s) {
  ctx.strokeStyle = s.colour;
  ctx.lineWidth = s.width;
  ctx.lineCap = "round";
  ctx.lineJoin = "round";
  if (s.tool === "arrow") { drawArrow(ctx, s); return; }
  ctx.beginPath();
  s.points.forEach((p, i) => (i ? ctx.lineTo(p.x, p.y) : ctx.moveTo(p.x, p.y)));
  if (s.points.length === 1) ctx.lineTo(s.points[0].x + 0.1, s.points[0].y);
  ctx.stroke();
}

function setup(root, data) {
  const canvas = root.querySelector(".board");
  const ctx = canvas.getContext("2d");
  // strokes outlive a re-render of the component (Streamlit may rebuild its DOM on a rerun)
  const kept = window.__studioSketch && window.__studioSketch.token === data.token ? window.__studioSketch.strokes : [];
  const state = { token: data.token, strokes: kept, current: null, tool: "pen", image: null, canvas };
  window.__studioSketch = state;
  canvas.width = data.width;
  canvas.height = data.height;
  const redraw = () => {
    ctx.fillStyle = "#ffffff";
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    if (state.image) ctx.drawImage(state.image, 0, 0, canvas.width, canvas.height);
    state.strokes.forEach((s) => drawStroke(ctx, s));
    if (state.current) drawStroke(ctx, state.current);
  };
  if (data.background) {
    const img = new Image();
    img.onload = () => { state.image = img; redraw(); };
    img.src = data.background;
  }
  const point = (e) => {
    const r = canvas.getBoundingClientRect();
    return { x: (e.clientX - r.left) * canvas.width / r.width, y: (e.clientY - r.top) * canvas.height / r.height };
  };
  canvas.addEventListener("pointerdown", (e) => {
    canvas.setPointerCapture?.(e.pointerId);
    state.current = {
      tool: state.tool, points: [point(e)],
      colour: root.querySelector(".colour").value, width: Number(root.querySelector(".width").value),
    };
    redraw();
  });
  canvas.addEventListener("pointermove", (e) => {
    if (!state.current) return;
    const p = point(e);
    if (state.current.tool === "arrow") state.current.points[1] = p; else state.current.points.push(p);
    redraw();
  });
  const finish = () => {
    if (!state.current) return;
    state.strokes.push(state.current);
    state.current = null;
    redraw();
  };
  canvas.addEventListener("pointerup", finish);
  canvas.addEventListener("pointerleave", finish);
  root.querySelectorAll("[data-tool]").forEach((b) => b.addEventListener("click", () => {
    state.tool = b.dataset.tool;
    root.querySelectorAll("[data-tool]").forEach((o) => o.classList.toggle("on", o === b));
  }));
  root.querySelector(".undo").addEventListener("click", () => { state.strokes.pop(); redraw(); });
  root.querySelector(".clear").addEventListener("click", () => { state.strokes.length = 0; redraw(); });
  root.querySelector(".add").addEventListener("click", () => {
    const status = root.querySelector(".status");
    if (!state.strokes.length && !state.image) { status.textContent = "Draw something first."; return; }
    const instruction = root.querySelector(".instruction").value;
    state.send({ png: canvas.toDataURL("image/png"), instruction });
    status.textContent = "Sent to the reference tray.";
    root.querySelector(".instruction").value = "";
  });
  redraw();
  return state;
}

export default function (component) {
  const { parentElement, data, setTriggerValue } = component;
  const canvas = parentElement.querySelector(".board");
  let state = parentElement.__sketch;
  if (!state || state.token !== data.token || state.canvas !== canvas) {
    state = setup(parentElement, data);
    parentElement.__sketch = state;
  }
  state.send = (value) => setTriggerValue("sketch", value);
}
