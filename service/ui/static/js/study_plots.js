// The study page's plots, drawn with the vendored plotly.js (cartesian bundle, window.Plotly).
import { isNumeric } from "./space.js";

export const CONFIG = { displaylogo: false, responsive: true };
const LAYOUT = { margin: { l: 60, r: 20, t: 30, b: 45 }, font: { size: 12 }, paper_bgcolor: "#fff",
  plot_bgcolor: "#fff", legend: { orientation: "h", y: -0.25 } };

/** The plots' common layout with ``extra`` on top. */
export function layout(extra) { return { ...LAYOUT, ...extra }; }

function axisType(parameter) { return isNumeric(parameter) && parameter.log ? "log" : "linear"; }

/**
 * Objective value of each completed trial by trial number, with the best so far among the feasible
 * ones (``bestSoFar: false`` leaves it out: a study with several objectives has no single best).
 * Infeasible trials (``feasible: false``) are a separate trace of grey crosses.
 */
export function drawHistory(div, trials, objective, goal, { bestSoFar = true } = {}) {
  const feasible = trials.filter((t) => t.feasible !== false);
  const infeasible = trials.filter((t) => t.feasible === false);
  const x = feasible.map((t) => t.number);
  const y = feasible.map((t) => t.values[objective]);
  const better = goal === "maximize" ? Math.max : Math.min;
  const best = [];
  y.forEach((v, i) => best.push(i === 0 ? v : better(best[i - 1], v)));
  const traces = [{ x, y, mode: "markers", type: "scatter", name: infeasible.length ? `${objective} (feasible)` : objective,
    marker: { color: "#1f77b4", size: 7 } }];
  if (bestSoFar) {
    traces.push({ x, y: best, mode: "lines", type: "scatter", name: "best so far", line: { shape: "hv", color: "#d62728", width: 2 } });
  }
  if (infeasible.length) {
    traces.push({ x: infeasible.map((t) => t.number), y: infeasible.map((t) => t.values[objective]), mode: "markers",
      type: "scatter", name: "infeasible", marker: { color: "#8c8c8c", size: 8, symbol: "x" } });
  }
  window.Plotly.react(div, traces, layout({ xaxis: { title: { text: "trial" } }, yaxis: { title: { text: objective } } }), CONFIG);
}

/** First-order and total Sobol indices of the surrogate mean, one pair of bars per parameter. */
export function drawImportances(div, names, indices) {
  const clip = (values) => values.map((v) => Math.min(1, Math.max(0, v)));
  window.Plotly.react(div, [
    { x: names, y: clip(indices.first), type: "bar", name: "first order" },
    { x: names, y: clip(indices.total), type: "bar", name: "total" },
  ], layout({ barmode: "group", yaxis: { title: { text: "share of the mean's variance" }, range: [0, 1] } }), CONFIG);
}

/**
 * Surrogate mean and 95% credible band along one parameter (the others held at the best trial),
 * with the observed values of the completed trials.
 */
export function drawSlice(div, parameter, grid, mean, sd, trials, objective) {
  const observed = { x: trials.map((t) => t.params[parameter.name]), y: trials.map((t) => t.values[objective]),
    mode: "markers", type: "scatter", name: "observed", marker: { color: "#444", size: 6, opacity: 0.7 } };
  const lower = mean.map((m, i) => m - 1.96 * sd[i]);
  const upper = mean.map((m, i) => m + 1.96 * sd[i]);
  let traces;
  if (isNumeric(parameter)) {
    traces = [
      { x: grid, y: lower, mode: "lines", type: "scatter", line: { width: 0 }, showlegend: false, hoverinfo: "skip",
        name: "band lower" },
      { x: grid, y: upper, mode: "lines", type: "scatter", fill: "tonexty", fillcolor: "rgba(31,119,180,0.22)",
        line: { width: 0 }, name: "95% band" },
      { x: grid, y: mean, mode: "lines", type: "scatter", name: "surrogate mean", line: { color: "#1f77b4", width: 2 } },
      observed,
    ];
  } else {
    traces = [
      { x: grid.map(String), y: mean, mode: "markers", type: "scatter", name: "surrogate mean ± 95% band",
        error_y: { type: "data", array: sd.map((s) => 1.96 * s), visible: true }, marker: { color: "#1f77b4", size: 9 } },
      { ...observed, x: observed.x.map(String) },
    ];
  }
  window.Plotly.react(div, traces, layout({ title: { text: parameter.name, font: { size: 13 } },
    xaxis: { title: { text: parameter.name }, type: isNumeric(parameter) ? axisType(parameter) : "category" },
    yaxis: { title: { text: objective } }, showlegend: false, margin: { l: 55, r: 10, t: 30, b: 40 } }), CONFIG);
}

/** Surrogate mean over a pair of numeric parameters (the others at the best trial), observed points on top. */
export function drawContour(div, px, py, xs, ys, z, trials, objective) {
  window.Plotly.react(div, [
    { x: xs, y: ys, z, type: "contour", colorscale: "Viridis", name: `${objective} (surrogate mean)`,
      colorbar: { title: { text: objective } }, contours: { coloring: "heatmap" } },
    { x: trials.map((t) => t.params[px.name]), y: trials.map((t) => t.params[py.name]), mode: "markers",
      type: "scatter", name: "observed", marker: { color: "#fff", size: 7, line: { color: "#000", width: 1 } } },
  ], layout({ xaxis: { title: { text: px.name }, type: axisType(px) }, yaxis: { title: { text: py.name }, type: axisType(py) },
    showlegend: false }), CONFIG);
}
