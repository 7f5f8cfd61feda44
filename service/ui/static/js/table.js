// A sortable, filterable table with a CSV download of the rows it shows.
import { el, formatNumber } from "./layout.js";

function compare(a, b) {
  const emptyA = a === null || a === undefined || a === "";
  const emptyB = b === null || b === undefined || b === "";
  if (emptyA || emptyB) return emptyA === emptyB ? 0 : emptyA ? 1 : -1;
  if (typeof a === "number" && typeof b === "number") return a - b;
  return String(a).localeCompare(String(b), undefined, { numeric: true });
}

function csvCell(value) {
  const text = value === null || value === undefined ? "" : String(value);
  return /[",\n\r]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/** CSV text of ``rows`` (header line first) under ``columns`` ({label, value(row)}). */
export function toCsv(columns, rows) {
  const lines = [columns.map((c) => csvCell(c.label)).join(",")];
  for (const row of rows) lines.push(columns.map((c) => csvCell(c.value(row))).join(","));
  return lines.join("\n") + "\n";
}

/** Save a Blob as a file named ``filename`` (a download made in the page, with no second request). */
export function downloadBlob(filename, blob) {
  const url = URL.createObjectURL(blob);
  const link = el("a", { href: url, download: filename });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

/**
 * A table view. ``columns``: [{label, value(row) -> number|string, render?(row) -> Node|string, wrap?}]
 * (``wrap``: long text that may break over lines; other cells stay on one line).
 * ``filter(row, text)`` decides which rows a filter text keeps (default: any cell contains it);
 * ``rowClass(row)`` names a CSS class of a row's <tr> (or nothing).
 */
export class DataTable {
  constructor(container, columns, { id, filter, csvName, rowClass } = {}) {
    this.columns = columns;
    this.rows = [];
    this.sortIndex = null;
    this.sortDescending = false;
    this.filterText = "";
    this.extraFilter = () => true;
    this.filter = filter || ((row, text) => columns.some((c) => String(c.value(row) ?? "").toLowerCase().includes(text)));
    this.csvName = csvName;
    this.rowClass = rowClass || (() => null);
    this.table = el("table", { class: "data", id });
    this.container = container;
    container.append(el("div", { class: "scroll" }, this.table));
  }

  setFilterText(text) { this.filterText = text.trim().toLowerCase(); this.render(); }

  setExtraFilter(predicate) { this.extraFilter = predicate; this.render(); }

  setRows(rows) { this.rows = rows; this.render(); }

  visibleRows() {
    let rows = this.rows.filter((row) => this.extraFilter(row) && (!this.filterText || this.filter(row, this.filterText)));
    if (this.sortIndex !== null) {
      const column = this.columns[this.sortIndex];
      rows = [...rows].sort((a, b) => compare(column.value(a), column.value(b)) * (this.sortDescending ? -1 : 1));
    }
    return rows;
  }

  downloadCsv() {
    downloadBlob(this.csvName || "table.csv", new Blob([toCsv(this.columns, this.visibleRows())], { type: "text/csv" }));
  }

  render() {
    const head = el("tr", {}, this.columns.map((column, index) => el("th", {
      class: index === this.sortIndex ? (this.sortDescending ? "sorted-desc" : "sorted-asc") : null,
      onclick: () => {
        this.sortDescending = this.sortIndex === index ? !this.sortDescending : false;
        this.sortIndex = index;
        this.render();
      },
    }, column.label)));
    const body = this.visibleRows().map((row) => el("tr", { class: this.rowClass(row) }, this.columns.map((column) => {
      const value = column.value(row);
      const shown = column.render ? column.render(row) : typeof value === "number" ? formatNumber(value) : value;
      return el("td", { class: column.wrap ? "wrap" : typeof value === "number" ? "num" : null }, shown ?? "");
    })));
    this.table.replaceChildren(el("thead", {}, head), el("tbody", {}, body));
  }
}
