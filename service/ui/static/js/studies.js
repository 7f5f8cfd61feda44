// The studies page: every study the key may see, with trial counts, best value and last activity.
// The best value comes from GET /pareto, which answers every study: one objective gives its best
// feasible trial(s) (an empty list, not /best's 404, before any feasible trial), several objectives
// their front (where /best would be a 409).
import { api, fetchAll } from "./api.js";
import { DataTable } from "./table.js";
import { el, formatDate, formatNumber, initLayout, poll, reportError, showError } from "./layout.js";

const details = new Map(); // study id -> {counts, best, last}: refetched only when its counts change

const table = new DataTable(document.getElementById("studies-table"), [
  { label: "name", value: (s) => s.name, render: (s) => el("a", { href: `/ui/studies/${encodeURIComponent(s.id)}` }, s.name) },
  { label: "surrogate", value: (s) => s.surrogate },
  { label: "objectives", value: (s) => s.objectives.map((o) => `${o.name} (${o.goal})`).join(", ") },
  { label: "trials", value: (s) => Object.values(s.trial_counts).reduce((a, b) => a + b, 0) },
  { label: "by state", value: (s) => Object.entries(s.trial_counts).filter(([, n]) => n > 0).map(([k, n]) => `${n} ${k}`).join(", ") },
  { label: "best value", value: (s) => details.get(s.id)?.best ?? null,
    render: (s) => (s.objectives.length > 1 ? details.get(s.id)?.front ?? "" : formatNumber(details.get(s.id)?.best)) },
  { label: "last activity", value: (s) => details.get(s.id)?.last || s.created_at,
    render: (s) => formatDate(details.get(s.id)?.last || s.created_at) },
], { id: "studies", filter: (s, text) => s.name.toLowerCase().includes(text) });

document.getElementById("study-filter").addEventListener("input", (event) => table.setFilterText(event.target.value));

async function loadDetails(study) {
  const counts = JSON.stringify(study.trial_counts);
  if (details.get(study.id)?.counts === counts) return;
  const total = Object.values(study.trial_counts).reduce((a, b) => a + b, 0);
  const entry = { counts, best: null, front: null, last: null };
  const base = `/v1/studies/${encodeURIComponent(study.id)}`;
  if ((study.trial_counts.completed || 0) > 0) {
    const pareto = await api(`${base}/pareto`);
    if (study.objectives.length > 1) {
      entry.best = pareto.hypervolume; // sorts by hypervolume
      entry.front = `front of ${pareto.trials.length}` + (pareto.hypervolume === null ? "" : `, hypervolume ${formatNumber(pareto.hypervolume)}`);
    } else if (pareto.trials.length) {
      entry.best = pareto.trials[0].values[study.objectives[0].name];
    }
  }
  if (total > 0) {
    const newest = (await api(`${base}/trials?limit=1&offset=${total - 1}`)).items[0];
    if (newest) entry.last = [newest.created_at, newest.completed_at].filter(Boolean).sort().pop();
  }
  details.set(study.id, entry);
}

async function refresh() {
  const studies = await fetchAll("/v1/studies");
  await Promise.all(studies.map(loadDetails));
  table.setRows(studies);
  showError("");
  document.getElementById("updated").textContent = `${studies.length} studies, updated ${new Date().toLocaleTimeString()}`;
}

initLayout(() => { details.clear(); refresh().catch(reportError); });
poll(refresh, 5);
