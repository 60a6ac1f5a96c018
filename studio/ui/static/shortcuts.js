// Ctrl/Cmd+Enter anywhere on the Generate page presses its Generate button.
// The delay lets a focused text area commit its value (Streamlit commits it on the same key).
export default function () {
  const handler = (event) => {
    if (!(event.ctrlKey || event.metaKey) || event.key !== "Enter") return;
    const button = document.querySelector(".st-key-gen_submit button");
    if (!button || button.disabled) return;
    setTimeout(() => button.click(), 250);
  };
  if (window.__studioShortcut) document.removeEventListener("keydown", window.__studioShortcut, true);
  window.__studioShortcut = handler;
  document.addEventListener("keydown", handler, true);
  return () => {
    document.removeEventListener("keydown", handler, true);
    if (window.__studioShortcut === handler) window.__studioShortcut = null;
  };
}
