// The jobs page: every job the key may see, its state and progress, polled every second.
import { fetchAll } from "./api.js";
import { DataTable } from "./table.js";
import { el, formatDate, formatNumber, initLayout, poll, progressCell, reportError, showError, stateBadge } from "./layout.js";

const table = new DataTable(document.getElementById("jobs-table"), [
  { label: "job", value: (j) => j.id, render: (j) => el("a", { href: `/ui/jobs/${encodeURIComponent(j.id)}` }, j.id) },
  { label: "kind", value: (j) => j.kind },
  { label: "state", value: (j) => j.state, render: (j) => stateBadge(j.state) },
  { label: "progress", value: (j) => j.progress, render: progressCell },
  { label: "message", value: (j) => j.message || "", wrap: true },
  { label: "epoch", value: (j) => j.epoch },
  { label: "log marglik", value: (j) => j.log_marglik, render: (j) => formatNumber(j.log_marglik) },
  { label: "dataset", value: (j) => j.dataset },
  { label: "created", value: (j) => j.created_at, render: (j) => formatDate(j.created_at) },
], { id: "jobs" });

document.getElementById("job-filter").addEventListener("input", (event) => table.setFilterText(event.target.value));

async function refresh() {
  const jobs = await fetchAll("/v1/jobs");
  table.setRows(jobs);
  showError("");
  document.getElementById("updated").textContent = `${jobs.length} jobs, updated ${new Date().toLocaleTimeString()}`;
}

initLayout(() => refresh().catch(reportError));
poll(refresh, 1);
