// Images pasted anywhere on the page (Ctrl/Cmd+V) or dropped on the zone go to the reference tray.
// Plain text pastes are left alone. Files are sent as data URLs; Python checks and refuses them.
const LIMIT = 25 * 1024 * 1024;

function read(file) {
  return new Promise((resolve) => {
    const name = file.name || "pasted-image";
    if (file.size > LIMIT) { resolve({ name, size: file.size, data: null }); return; }
    const reader = new FileReader();
    reader.onload = () => resolve({ name, size: file.size, data: reader.result });
    reader.onerror = () => resolve({ name, size: file.size, data: null });
    reader.readAsDataURL(file);
  });
}

async function send(files) {
  if (!files.length || !window.__studioPasteSend) return;
  window.__studioPasteSend(await Promise.all(files.map(read)));
}

export default function (component) {
  const { parentElement, setTriggerValue } = component;
  window.__studioPasteSend = (value) => setTriggerValue("pasted", value);
  const zone = parentElement.querySelector(".zone");
  if (zone && !zone.__wired) {
    zone.__wired = true;
    zone.addEventListener("dragover", (e) => { e.preventDefault(); zone.classList.add("over"); });
    zone.addEventListener("dragleave", () => zone.classList.remove("over"));
    zone.addEventListener("drop", (e) => {
      e.preventDefault();
      zone.classList.remove("over");
      send(Array.from(e.dataTransfer.files || []));
    });
  }
  const onPaste = (event) => {
    const files = Array.from(event.clipboardData ? event.clipboardData.files : []);
    if (!files.length) return;
    event.preventDefault();
    send(files);
  };
  if (window.__studioPaste) document.removeEventListener("paste", window.__studioPaste);
  window.__studioPaste = onPaste;
  document.addEventListener("paste", onPaste);
  return () => {
    document.removeEventListener("paste", onPaste);
    if (window.__studioPaste === onPaste) window.__studioPaste = null;
  };
}
