// The Pareto front card of a study with several objectives: every completed trial on two objectives
// (feasible and infeasible ones apart), the front from GET /v1/studies/{id}/pareto highlighted and,
// for two objectives, connected by the boundary of the region it dominates; its hypervolume and
// where the reference point came from.
import { api } from "./api.js";
import { el, formatNumber, reportError } from "./layout.js";
import { isMultiObjective } from "./outcomes.js";
import { CONFIG, layout } from "./study_plots.js";

const $ = (id) => document.getElementById(id);

/** The name of the front's trace (the tests find it by this name). */
export const FRONT_TRACE = "Pareto front";

let choicesFor = null; // the study id whose objective selects are filled

function fillChoices(study, redraw) {
  if (choicesFor === study.id) return;
  choicesFor = study.id;
  const names = study.objectives.map((o) => o.name);
  $("pareto-controls").hidden = names.length < 3;
  for (const [select, index] of [[$("pareto-x"), 0], [$("pareto-y"), 1]]) {
    select.replaceChildren(...names.map((name) => el("option", { value: name }, name)));
    select.value = names[index];
    select.addEventListener("change", redraw);
  }
}

/**
 * The staircase that bounds what the front dominates: sorted by x, it steps across then up or down
 * ("hv") when x is minimised and along y first ("vh") when x is maximised.
 */
export function staircaseShape(goalX) { return goalX === "minimize" ? "hv" : "vh"; }

function valuesOf(trials, name) { return trials.map((t) => t.values[name]); }

function hoverText(trials) {
  return trials.map((t) => [`trial ${t.number}`, ...Object.entries(t.values).map(([k, v]) => `${k} = ${formatNumber(v)}`)]
    .join("<br>"));
}

/** Draw the scatter of ``completed`` trials with ``front`` on top, on objectives ``nx`` and ``ny``. */
export function drawPareto(div, study, completed, front, nx, ny, referencePoint) {
  const goal = Object.fromEntries(study.objectives.map((o) => [o.name, o.goal]));
  const onFront = new Set(front.map((t) => t.id));
  const rest = completed.filter((t) => !onFront.has(t.id));
  const feasible = rest.filter((t) => t.feasible !== false);
  const infeasible = rest.filter((t) => t.feasible === false);
  const sorted = [...front].sort((a, b) => a.values[nx] - b.values[nx] || a.values[ny] - b.values[ny]);
  const twoObjectives = study.objectives.length === 2;
  const point = (trials, name, marker) => ({ x: valuesOf(trials, nx), y: valuesOf(trials, ny), text: hoverText(trials),
    hoverinfo: "text", mode: "markers", type: "scatter", name, marker });
  const traces = [
    point(feasible, "feasible", { color: "#1f77b4", size: 7, opacity: 0.75 }),
    point(infeasible, "infeasible", { color: "#8c8c8c", size: 8, symbol: "x" }),
    { ...point(sorted, FRONT_TRACE, { color: "#d62728", size: 10, line: { color: "#000", width: 1 } }),
      mode: twoObjectives ? "lines+markers" : "markers", line: { color: "#d62728", width: 2, shape: staircaseShape(goal[nx]) } },
  ];
  if (referencePoint) {
    const index = Object.fromEntries(study.objectives.map((o, i) => [o.name, i]));
    traces.push({ x: [referencePoint[index[nx]]], y: [referencePoint[index[ny]]], mode: "markers", type: "scatter",
      name: "reference point", hoverinfo: "x+y", marker: { color: "#000", size: 10, symbol: "star" } });
  }
  const axis = (name) => ({ title: { text: `${name} (${goal[name]})` } });
  window.Plotly.react(div, traces, layout({ margin: { l: 60, r: 20, t: 20, b: 45 }, xaxis: axis(nx), yaxis: axis(ny) }), CONFIG);
}

function describe(study, pareto, completed, nx, ny) {
  const infeasible = completed.filter((t) => t.feasible === false).length;
  const parts = [`${pareto.trials.length} of ${completed.length} completed trial(s) on the front`
    + (infeasible ? `; ${infeasible} infeasible (grey crosses, never on the front)` : "") + "."];
  if (pareto.hypervolume !== null && pareto.hypervolume !== undefined) {
    const ref = pareto.reference_point.map((v) => formatNumber(v)).join(", ");
    parts.push(`Hypervolume ${formatNumber(pareto.hypervolume)} above the reference point (${ref}), `
      + (pareto.reference_point_inferred ? "inferred from the front (no objective has a threshold)."
        : "the objectives' thresholds."));
  }
  if (study.objectives.length > 2) {
    parts.push(`Shown on ${nx} and ${ny}: the front is non-dominated on all ${study.objectives.length} objectives, `
      + "so some of its points may look dominated in this projection.");
  }
  return parts.join(" ");
}

let currentStudy = null;
let currentTrials = [];

async function render(study, trials) {
  currentStudy = study;
  currentTrials = trials;
  const completed = trials.filter((t) => t.state === "completed" && t.values);
  const redraw = () => render(currentStudy, currentTrials).catch(reportError);
  fillChoices(study, redraw);
  const nx = $("pareto-x").value;
  const ny = $("pareto-y").value;
  if (nx === ny) { $("pareto-note").textContent = "Choose two different objectives."; return; }
  if (!completed.length) { $("pareto-note").textContent = "No completed trial yet."; return; }
  const pareto = await api(`/v1/studies/${encodeURIComponent(study.id)}/pareto`);
  drawPareto($("pareto-plot"), study, completed, pareto.trials, nx, ny, pareto.reference_point);
  $("pareto-note").textContent = describe(study, pareto, completed, nx, ny);
}

/** The optional view of the study page (see OPTIONAL_VIEWS in study.js). */
export const paretoView = { id: "pareto-card", applies: (study) => isMultiObjective(study), render };
