// Page chrome shared by every view: navigation, the API-key box, an error banner, small formatters
// and a poller that refreshes a view without reloading the page.
import { ApiError, getKey, onUnauthorized, setKey } from "./api.js";

/** Create an element: el("td", {class: "num"}, "1.5"). Strings become text nodes (never HTML). */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function formatNumber(value, digits = 4) {
  if (value === null || value === undefined || value === "") return "";
  if (typeof value !== "number") return String(value);
  if (Number.isInteger(value)) return String(value);
  const magnitude = Math.abs(value);
  return magnitude !== 0 && (magnitude < 1e-3 || magnitude >= 1e5) ? value.toExponential(digits - 1)
    : String(Number(value.toPrecision(digits)));
}

export function formatDate(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toLocaleString();
}

export function stateBadge(state) { return el("span", { class: `state ${state}` }, state); }

/** A job's progress as a bar and a percentage. */
export function progressCell(job) {
  const percent = Math.round(job.progress * 100);
  return el("span", { class: "progress", "data-job": job.id },
    el("progress", { max: 100, value: percent }), ` ${percent}%`);
}

export function showError(message) {
  const banner = document.getElementById("banner");
  if (banner) banner.textContent = message || "";
}

/** Show a failed request's message (the server's ``detail``) in the banner. */
export function reportError(error) { showError(error instanceof ApiError ? error.detail : error.message); }

/** Render the header (navigation and key box) and call ``refresh`` again once a key is entered. */
export function initLayout(refresh) {
  const input = el("input", { type: "password", id: "api-key", placeholder: "API key (only if the server has keys)",
    autocomplete: "off" });
  const use = el("button", { id: "use-key", type: "submit" }, "Use key");
  const forget = el("button", { id: "forget-key", type: "button", onclick: () => { setKey(null); paintKeyState();
    refresh(); } }, "Forget");
  const keyState = el("span", { id: "key-state" });
  function paintKeyState() { keyState.textContent = getKey() ? "key set for this tab" : "no key"; }
  paintKeyState();
  const header = el("header", { class: "top" },
    el("a", { class: "brand", href: "/ui" }, "bdlopt"),
    el("a", { href: "/ui" }, "Studies"),
    el("a", { href: "/ui/jobs" }, "Jobs"),
    el("a", { href: "/docs" }, "API docs"),
    el("form", { class: "key", onsubmit: (event) => {
      event.preventDefault();
      setKey(input.value.trim());
      input.value = "";
      showError("");
      paintKeyState();
      refresh();
    } }, keyState, input, use, forget));
  document.body.prepend(header);
  onUnauthorized((detail) => {
    showError(`The server needs an API key for this page: enter it at the top right (${detail}).`);
    input.focus();
  });
}

/** Call ``tick`` now and every ``seconds`` while the tab is visible; ``tick`` returning false stops it. */
export function poll(tick, seconds) {
  let stopped = false;
  async function run() {
    if (stopped) return;
    if (!document.hidden) {
      try {
        if ((await tick()) === false) { stopped = true; return; }
      } catch (error) {
        reportError(error);
      }
    }
    setTimeout(run, seconds * 1000);
  }
  run();
  return () => { stopped = true; };
}
