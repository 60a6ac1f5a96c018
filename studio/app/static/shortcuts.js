// Ctrl/Cmd+Enter anywhere on the Generate page presses its Generate button — once per press.
// The delay lets a focused text area commit its value (Streamlit commits it on the same key).
// A held key repeats keydown: repeats are ignored, and a second press while one is pending (or just
// sent) is dropped, so one gesture can never pay for two batches. Nothing happens under a modal dialog.
const DELAY_MS = 250;
const LOCK_MS = 1500;

function dialogOpen() {
  return Array.from(document.querySelectorAll("[role=dialog]")).some(
    (el) => el.offsetParent !== null || el.getClientRects().length > 0,
  );
}

export default function () {
  const handler = (event) => {
    if (!(event.ctrlKey || event.metaKey) || event.key !== "Enter") return;
    if (event.repeat || window.__studioShortcutPending || dialogOpen()) return;
    const button = document.querySelector(".st-key-gen_submit button");
    if (!button || button.disabled) return;
    window.__studioShortcutPending = true;
    setTimeout(() => {
      if (!button.disabled && button.isConnected && !dialogOpen()) button.click();
    }, DELAY_MS);
    setTimeout(() => { window.__studioShortcutPending = false; }, LOCK_MS);
  };
  if (window.__studioShortcut) document.removeEventListener("keydown", window.__studioShortcut, true);
  window.__studioShortcut = handler;
  document.addEventListener("keydown", handler, true);
  return () => {
    document.removeEventListener("keydown", handler, true);
    if (window.__studioShortcut === handler) window.__studioShortcut = null;
  };
}
