// The study page: history, parallel coordinates, importances, slices, contour, the Pareto front of a
// study with several objectives and the trials table, refreshed by polling the study's trial counts
// (no reload). The surrogate plots show the first objective (predict's ``mean``), and say so when
// there are several.
import { api, fetchAll } from "./api.js";
import { DataTable } from "./table.js";
import { el, formatDate, formatNumber, initLayout, poll, reportError, showError, stateBadge } from "./layout.js";
import { constraintTexts, feasibleText, isConstrained, isMultiObjective, measuredNames } from "./outcomes.js";
import { drawParallel } from "./parallel.js";
import { paretoView } from "./pareto.js";
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

// Views that apply to some studies only. Each is {id, applies(study, trials), render(study, trials)}
// (render may return a promise); intermediate values (reported per step) plug in here once the API
// has them.
const OPTIONAL_VIEWS = [paretoView];

function objectiveOf(s) { return s.objectives[0]; }

function completedTrials() {
  return trials.filter((t) => t.state === "completed" && t.values).sort((a, b) => a.number - b.number);
}

/** The best feasible trial on the first objective (any trial when none is feasible): the plots' anchor. */
function bestTrial(completed) {
  const { name, goal } = objectiveOf(study);
  const sign = goal === "maximize" ? -1 : 1;
  const feasible = completed.filter((t) => t.feasible !== false);
  return (feasible.length ? feasible : completed).reduce((best, t) => (best === null || sign * t.values[name] < sign * best.values[name] ? t : best), null);
}

function renderSummary() {
  document.title = `${study.name} - bdlopt`;
  $("title").textContent = study.name;
  const objectives = study.objectives.map((o) => `${o.name} (${o.goal}${o.threshold === null || o.threshold === undefined
    ? "" : `, threshold ${o.threshold}`})`).join(", ");
  const counts = Object.entries(study.trial_counts).filter(([, n]) => n > 0).map(([s, n]) => `${n} ${s}`).join(", ");
  const constraints = constraintTexts(study);
  const extra = [];
  if (constraints.length) extra.push(el("dt", {}, "constraints"), el("dd", {}, constraints.join("; ")));
  if (isMultiObjective(study)) {
    extra.push(el("dt", {}, "hypervolume"), el("dd", { id: "summary-hypervolume" },
      study.hypervolume === null || study.hypervolume === undefined ? "no feasible trial yet" : formatNumber(study.hypervolume)));
  }
  $("summary").replaceChildren(el("dl", { class: "kv" },
    el("dt", {}, "id"), el("dd", {}, study.id),
    el("dt", {}, study.objectives.length > 1 ? "objectives" : "objective"), el("dd", {}, objectives),
    ...extra,
    el("dt", {}, "surrogate"), el("dd", {}, study.surrogate),
    el("dt", {}, "parameters"), el("dd", {}, study.parameters.map((p) => (isNumeric(p)
      ? `${p.name}: ${p.type} [${p.low}, ${p.high}]${p.log ? " log" : ""}` : `${p.name}: {${p.choices.join(", ")}}`)).join("; ")),
    el("dt", {}, "trials"), el("dd", { id: "trial-counts" }, counts || "none yet"),
    el("dt", {}, "created"), el("dd", {}, formatDate(study.created_at))));
}

function buildTable() {
  const columns = [
    { label: "number", value: (t) => t.number },
    { label: "state", value: (t) => t.state, render: (t) => stateBadge(t.state) },
    ...measuredNames(study).map((name) => ({ label: name, value: (t) => t.values?.[name] ?? null })),
    { label: "feasible", value: feasibleText, render: (t) => el("span", { class: `flag ${feasibleText(t)}` }, feasibleText(t)) },
    ...study.parameters.map((p) => ({ label: p.name, value: (t) => t.params[p.name] })),
    { label: "policy", value: (t) => t.policy || "" },
    { label: "source", value: (t) => t.source },
    { label: "created_at", value: (t) => t.created_at, render: (t) => formatDate(t.created_at) },
    { label: "completed_at", value: (t) => t.completed_at || "", render: (t) => formatDate(t.completed_at) },
    { label: "id", value: (t) => t.id },
  ];
  table = new DataTable($("trials-table"), columns, { id: "trials", csvName: `${study.name}-trials.csv`,
    rowClass: (t) => (t.feasible === false ? "infeasible" : null) });
  $("trial-filter").addEventListener("input", (event) => table.setFilterText(event.target.value));
  $("trial-state").addEventListener("change", (event) => {
    const state = event.target.value;
    table.setExtraFilter((t) => !state || t.state === state);
  });
  $("download-csv").addEventListener("click", () => table.downloadCsv());
}

/** With several objectives the history shows one, chosen in a select, and no best so far. */
function fillHistoryChoices() {
  if (!isMultiObjective(study)) return;
  const select = $("history-objective");
  select.replaceChildren(...study.objectives.map((o) => el("option", { value: o.name }, `${o.name} (${o.goal})`)));
  select.addEventListener("change", renderHistory);
  $("history-controls").hidden = false;
}

function renderHistory() {
  const completed = completedTrials();
  const multi = isMultiObjective(study);
  const objective = multi ? study.objectives.find((o) => o.name === $("history-objective").value) : objectiveOf(study);
  const infeasible = completed.filter((t) => t.feasible === false).length;
  const notes = [completed.length ? `${completed.length} completed trial(s).` : "No completed trial yet."];
  if (infeasible) notes.push(`${infeasible} infeasible (grey crosses${multi ? "" : ", not counted in the best so far"}).`);
  if (multi) notes.push("Several objectives have no single best trial, so there is no best-so-far line: see the Pareto front.");
  $("history-note").textContent = notes.join(" ");
  if (completed.length) drawHistory($("history"), completed, objective.name, objective.goal, { bestSoFar: !multi });
}

async function renderTrialViews() {
  const completed = completedTrials();
  const first = objectiveOf(study).name;
  renderHistory();
  if (completed.length) drawParallel($("parallel"), study.parameters, completed, first);
  if (isMultiObjective(study)) {
    $("parallel-note").textContent = `One line per completed trial, coloured by the first objective, ${first} (dark: low, yellow: high).`;
  }
  table.setRows(trials);
  for (const view of OPTIONAL_VIEWS) {
    const section = $(view.id);
    section.hidden = !view.applies(study, trials);
    if (!section.hidden) await view.render(study, trials);
  }
}

/** What the surrogate plots show, for a study with several objectives or constraints. */
function surrogateScope() {
  const first = objectiveOf(study);
  const parts = [];
  if (isMultiObjective(study)) parts.push(`They show the first objective, ${first.name}: predict's mean and sd (its outcomes has the others).`);
  if (isConstrained(study)) parts.push(`The other parameters are held at the best feasible trial${isMultiObjective(study) ? ` on ${first.name}` : ""}.`);
  return parts.length ? ` ${parts.join(" ")}` : "";
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
  $("contour-note").textContent = "Surrogate mean; the other parameters are held at the best trial's values." + surrogateScope();
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
    + (study.surrogate === "random" ? " Random search has no model: these plots show the GP that predict fits to the same trials." : "")
    + surrogateScope();
  await renderContour();
  const indices = await surrogate.importances(study.id, study.parameters);
  drawImportances($("importances"), study.parameters.map((p) => p.name), indices);
  if (isMultiObjective(study)) $("importances-note").textContent = `Of the first objective, ${objectiveOf(study).name}.`;
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
    if (!table) { buildTable(); fillContourChoices(); fillHistoryChoices(); }
    renderSummary();
    await renderTrialViews();
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
