// The study page: history, parallel coordinates, importances, slices, contour and the trials table,
// refreshed by polling the study's trial counts (no reload).
import { api, fetchAll } from "./api.js";
import { DataTable } from "./table.js";
import { el, formatDate, formatNumber, initLayout, poll, reportError, showError, stateBadge } from "./layout.js";
import { drawParallel } from "./parallel.js";
import { isNumeric } from "./space.js";
import { drawContour, drawHistory, drawImportances, drawSlice } from "./study_plots.js";
import * as surrogate from "./surrogate.js";

const MIN_FOR_SURROGATE = 2; // predict needs two completed trials
const studyId = decodeURIComponent(location.pathname.split("/").pop());
const $ = (id) => document.getElementById(id);

let study = null;
let trials = [];
let seenCounts = null;
let seenCompleted = null;
let table = null;

// Views that apply to some studies only. Each is {id, applies(study, trials), render(study, trials)};
// the Pareto front (several objectives) and intermediate values (reported per step) plug in here
// once the API has them.
const OPTIONAL_VIEWS = [];

function objectiveOf(s) { return s.objectives[0]; }

function completedTrials() {
  return trials.filter((t) => t.state === "completed" && t.values).sort((a, b) => a.number - b.number);
}

function bestTrial(completed) {
  const { name, goal } = objectiveOf(study);
  const sign = goal === "maximize" ? -1 : 1;
  return completed.reduce((best, t) => (best === null || sign * t.values[name] < sign * best.values[name] ? t : best), null);
}

function renderSummary() {
  document.title = `${study.name} - bdlopt`;
  $("title").textContent = study.name;
  const objective = objectiveOf(study);
  const counts = Object.entries(study.trial_counts).filter(([, n]) => n > 0).map(([s, n]) => `${n} ${s}`).join(", ");
  $("summary").replaceChildren(el("dl", { class: "kv" },
    el("dt", {}, "id"), el("dd", {}, study.id),
    el("dt", {}, "objective"), el("dd", {}, `${objective.name} (${objective.goal})`),
    el("dt", {}, "surrogate"), el("dd", {}, study.surrogate),
    el("dt", {}, "parameters"), el("dd", {}, study.parameters.map((p) => (isNumeric(p)
      ? `${p.name}: ${p.type} [${p.low}, ${p.high}]${p.log ? " log" : ""}` : `${p.name}: {${p.choices.join(", ")}}`)).join("; ")),
    el("dt", {}, "trials"), el("dd", { id: "trial-counts" }, counts || "none yet"),
    el("dt", {}, "created"), el("dd", {}, formatDate(study.created_at))));
}

function buildTable() {
  const objective = objectiveOf(study).name;
  const columns = [
    { label: "number", value: (t) => t.number },
    { label: "state", value: (t) => t.state, render: (t) => stateBadge(t.state) },
    { label: objective, value: (t) => (t.values ? t.values[objective] : null) },
    ...study.parameters.map((p) => ({ label: p.name, value: (t) => t.params[p.name] })),
    { label: "policy", value: (t) => t.policy || "" },
    { label: "source", value: (t) => t.source },
    { label: "created_at", value: (t) => t.created_at, render: (t) => formatDate(t.created_at) },
    { label: "completed_at", value: (t) => t.completed_at || "", render: (t) => formatDate(t.completed_at) },
    { label: "id", value: (t) => t.id },
  ];
  table = new DataTable($("trials-table"), columns, { id: "trials", csvName: `${study.name}-trials.csv` });
  $("trial-filter").addEventListener("input", (event) => table.setFilterText(event.target.value));
  $("trial-state").addEventListener("change", (event) => {
    const state = event.target.value;
    table.setExtraFilter((t) => !state || t.state === state);
  });
  $("download-csv").addEventListener("click", () => table.downloadCsv());
}

function renderTrialViews() {
  const completed = completedTrials();
  const objective = objectiveOf(study);
  $("history-note").textContent = completed.length ? `${completed.length} completed trial(s).` : "No completed trial yet.";
  if (completed.length) drawHistory($("history"), completed, objective.name, objective.goal);
  if (completed.length) drawParallel($("parallel"), study.parameters, completed, objective.name);
  table.setRows(trials);
  for (const view of OPTIONAL_VIEWS) {
    const section = $(view.id);
    section.hidden = !view.applies(study, trials);
    if (!section.hidden) view.render(study, trials);
  }
}

function numericParameters() { return study.parameters.filter(isNumeric); }

function fillContourChoices() {
  const numeric = numericParameters();
  if (numeric.length < 2) {
    $("contour-note").textContent = "A contour needs two numeric parameters.";
    $("contour-controls").hidden = true;
    return;
  }
  for (const [select, index] of [[$("contour-x"), 0], [$("contour-y"), 1]]) {
    select.replaceChildren(...numeric.map((p) => el("option", { value: p.name }, p.name)));
    select.value = numeric[index].name;
    select.addEventListener("change", () => renderContour().catch(reportError));
  }
}

async function renderContour() {
  const numeric = numericParameters();
  const completed = completedTrials();
  if (numeric.length < 2 || completed.length < MIN_FOR_SURROGATE) return;
  const px = numeric.find((p) => p.name === $("contour-x").value);
  const py = numeric.find((p) => p.name === $("contour-y").value);
  if (px === py) { $("contour-note").textContent = "Choose two different parameters."; return; }
  const anchor = bestTrial(completed).params;
  const { xs, ys, z } = await surrogate.contour(study.id, px, py, anchor);
  $("contour-note").textContent = "Surrogate mean; the other parameters are held at the best trial's values.";
  drawContour($("contour"), px, py, xs, ys, z, completed, objectiveOf(study).name);
}

async function renderSurrogateViews() {
  const completed = completedTrials();
  const objective = objectiveOf(study).name;
  if (completed.length < MIN_FOR_SURROGATE) {
    for (const id of ["importances-note", "slices-note", "contour-note"]) {
      $(id).textContent = `The surrogate needs ${MIN_FOR_SURROGATE} completed trials.`;
    }
    return;
  }
  const anchor = bestTrial(completed).params;
  const slices = await surrogate.slices(study.id, study.parameters, anchor);
  const container = $("slices");
  container.replaceChildren(...slices.map((_, i) => el("div", { class: "plot", id: `slice-${i}` })));
  slices.forEach((s, i) => drawSlice($(`slice-${i}`), s.parameter, s.grid, s.mean, s.sd, completed, objective));
  $("slices-note").textContent = "Surrogate mean and 95% credible band (mean ± 1.96 sd) along each parameter, "
    + "the others held at the best trial's values; dots are the observed trials."
    + (study.surrogate === "random" ? " Random search has no model: these plots show the GP that predict fits to the same trials." : "");
  await renderContour();
  const indices = await surrogate.importances(study.id, study.parameters);
  drawImportances($("importances"), study.parameters.map((p) => p.name), indices);
  $("importances-values").textContent = study.parameters.map((p, i) =>
    `${p.name}: ${formatNumber(indices.first[i], 2)} / ${formatNumber(indices.total[i], 2)}`).join("; ");
}

let surrogateBusy = false;

async function refresh() {
  study = await api(`/v1/studies/${encodeURIComponent(studyId)}`);
  const counts = JSON.stringify(study.trial_counts);
  if (counts !== seenCounts) {
    seenCounts = counts;
    showError(""); // new data: an earlier message is stale
    trials = await fetchAll(`/v1/studies/${encodeURIComponent(studyId)}/trials`, 1000);
    if (!table) { buildTable(); fillContourChoices(); }
    renderSummary();
    renderTrialViews();
    $("updated").textContent = `updated ${new Date().toLocaleTimeString()}`;
  }
  const completed = study.trial_counts.completed || 0;
  if (completed !== seenCompleted && !surrogateBusy) {
    seenCompleted = completed; // a failure is not retried until the data changes
    surrogateBusy = true;
    try {
      await renderSurrogateViews();
    } finally {
      surrogateBusy = false;
    }
  }
}

initLayout(() => { seenCounts = null; seenCompleted = null; refresh().catch(reportError); });
poll(refresh, 3);
