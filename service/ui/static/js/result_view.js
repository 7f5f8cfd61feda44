// A job result (any JSON object) as tables: scalars as key/value pairs, lists of objects and objects
// of scalars as tables, anything else as indented JSON folded under its name. Long numeric arrays (curves the plots show)
// are summarised rather than printed.
import { el, formatNumber } from "./layout.js";

const isScalar = (v) => v === null || ["number", "string", "boolean"].includes(typeof v);
const MAX_ROWS = 200;

function cell(value) {
  if (isScalar(value)) return typeof value === "number" ? formatNumber(value) : String(value ?? "");
  if (Array.isArray(value) && value.every((v) => typeof v === "number")) {
    return value.length <= 6 ? value.map((v) => formatNumber(v, 3)).join(", ") : `${value.length} numbers`;
  }
  const text = JSON.stringify(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

function recordsTable(records) {
  const columns = [...new Set(records.flatMap((r) => Object.keys(r)))];
  return el("div", { class: "scroll" }, el("table", { class: "data" },
    el("thead", {}, el("tr", {}, columns.map((c) => el("th", {}, c)))),
    el("tbody", {}, records.slice(0, MAX_ROWS).map((r) => el("tr", {}, columns.map((c) =>
      el("td", { class: typeof r[c] === "number" ? "num" : null }, cell(r[c]))))))));
}

/** DOM for one job result. */
export function resultView(result) {
  const scalars = Object.entries(result).filter(([, v]) => isScalar(v));
  const blocks = [];
  if (scalars.length) {
    blocks.push(el("dl", { class: "kv" }, scalars.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, cell(v))])));
  }
  for (const [key, value] of Object.entries(result)) {
    if (isScalar(value)) continue;
    let body;
    if (Array.isArray(value) && value.length && value.every((v) => v && typeof v === "object" && !Array.isArray(v))) {
      body = recordsTable(value);
    } else if (value && typeof value === "object" && !Array.isArray(value) && Object.values(value).every(
      (v) => v && typeof v === "object" && !Array.isArray(v))) {
      body = recordsTable(Object.entries(value).map(([name, v]) => ({ name, ...v })));
    } else if (value && typeof value === "object" && !Array.isArray(value) && Object.values(value).every(isScalar)) {
      body = recordsTable(Object.entries(value).map(([name, v]) => ({ name, value: v })));
    } else {
      blocks.push(el("details", {}, el("summary", {}, key), el("pre", { class: "json" }, JSON.stringify(value, null, 2))));
      continue;
    }
    blocks.push(el("h3", {}, key), body);
  }
  return el("div", { class: "result" }, blocks);
}
