// The public REST API from the browser. The key lives in sessionStorage only: it goes out in the
// Authorization header, never in a URL, and is forgotten when the tab closes.
const STORAGE_KEY = "bdlopt.apiKey";
const listeners = new Set();

export function getKey() { return sessionStorage.getItem(STORAGE_KEY); }

export function setKey(key) {
  if (key) sessionStorage.setItem(STORAGE_KEY, key);
  else sessionStorage.removeItem(STORAGE_KEY);
}

/** Called with the server's message whenever a request is refused for want of a (valid) key. */
export function onUnauthorized(listener) { listeners.add(listener); }

export class ApiError extends Error {
  constructor(status, detail) { super(`${status}: ${detail}`); this.status = status; this.detail = detail; }
}

function headers(extra = {}) {
  const key = getKey();
  return key ? { ...extra, Authorization: `Bearer ${key}` } : extra;
}

async function send(path, options = {}) {
  const init = { method: options.method || "GET", headers: headers({ Accept: "application/json" }) };
  if (options.body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(options.body);
  }
  const response = await fetch(path, init);
  if (!response.ok) {
    let detail = response.statusText;
    try { detail = (await response.json()).detail || detail; } catch (_) { /* not JSON */ }
    if (response.status === 401) listeners.forEach((listener) => listener(detail));
    throw new ApiError(response.status, detail);
  }
  return response;
}

/** GET or POST a JSON body; resolves to the parsed JSON response. */
export async function api(path, options = {}) {
  return (await send(path, options)).json();
}

/** Every item of a paged listing (``{items, total}``), ``limit`` at a time. */
export async function fetchAll(path, limit = 500) {
  const items = [];
  const join = path.includes("?") ? "&" : "?";
  for (;;) {
    const page = await api(`${path}${join}limit=${limit}&offset=${items.length}`);
    items.push(...page.items);
    if (page.items.length === 0 || items.length >= page.total) return items;
  }
}

/** A binary response (an artifact) as a Blob, with the key in the header. */
export async function fetchBlob(path) {
  return (await send(path)).blob();
}
