// The History detail's keys: ← and → press Previous/Next, Escape presses Back to the grid.
// Typing in a field is left alone.
function press(name) {
  const button = document.querySelector(`.st-key-${name} button`);
  if (button && !button.disabled) { button.click(); return true; }
  return false;
}

export default function () {
  const onKey = (e) => {
    const tag = (e.target && e.target.tagName) || "";
    if (tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || e.target?.isContentEditable) return;
    if (e.target?.closest?.("[role='radiogroup'], [role='slider'], [role='listbox'], [role='menu']")) return;
    if (e.ctrlKey || e.metaKey || e.altKey || e.shiftKey) return;
    if (document.querySelector("[role='dialog']")) return;
    const done =
      (e.key === "ArrowLeft" && press("hist_prev")) ||
      (e.key === "ArrowRight" && press("hist_next")) ||
      (e.key === "Escape" && press("hist_back"));
    if (done) e.preventDefault();
  };
  if (window.__studioHistKeys) document.removeEventListener("keydown", window.__studioHistKeys);
  window.__studioHistKeys = onKey;
  document.addEventListener("keydown", onKey);
  return () => {
    document.removeEventListener("keydown", onKey);
    if (window.__studioHistKeys === onKey) window.__studioHistKeys = null;
  };
}
