// Parallel coordinates as plain SVG: one axis per parameter and one for the objective, one line per
// completed trial coloured by its objective value. Drawn by hand because the vendored plotly bundle
// (cartesian) has no parcoords trace; the full bundle that has one is WebGL-based and 3x larger.
import { isNumeric } from "./space.js";

const SVG = "http://www.w3.org/2000/svg";

function svg(tag, attrs = {}, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, String(value));
  if (text !== undefined) node.textContent = text;
  return node;
}

/** Position in [0, 1] of ``value`` on a parameter's axis (log scale for log parameters). */
function position(parameter, value) {
  if (!isNumeric(parameter)) {
    const index = parameter.choices.findIndex((c) => String(c) === String(value));
    return parameter.choices.length === 1 ? 0.5 : index / (parameter.choices.length - 1);
  }
  const scale = parameter.log ? Math.log : (x) => x;
  return (scale(value) - scale(parameter.low)) / (scale(parameter.high) - scale(parameter.low));
}

/** A colour from dark blue (0) to yellow (1), as in viridis. */
export function colour(t) {
  const stops = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];
  const x = Math.min(1, Math.max(0, t)) * (stops.length - 1);
  const i = Math.min(stops.length - 2, Math.floor(x));
  const f = x - i;
  const rgb = stops[i].map((c, k) => Math.round(c + f * (stops[i + 1][k] - c)));
  return `rgb(${rgb.join(",")})`;
}

function label(value) {
  return typeof value === "number" ? String(Number(value.toPrecision(3))) : String(value);
}

/** Draw into ``container``; ``trials`` are completed trials, ``objective`` the objective's name. */
export function drawParallel(container, parameters, trials, objective) {
  const width = Math.max(480, container.clientWidth || 900);
  const height = 320;
  const margin = { top: 44, bottom: 30, left: 50, right: 60 };
  const axes = parameters.length + 1;
  const step = (width - margin.left - margin.right) / Math.max(1, axes - 1);
  const values = trials.map((t) => t.values[objective]);
  const low = Math.min(...values);
  const high = Math.max(...values);
  const objectiveAxis = { name: objective, type: "float", low, high: high > low ? high : low + 1 };
  const all = [...parameters, objectiveAxis];
  const y = (t) => margin.top + (1 - t) * (height - margin.top - margin.bottom);
  const root = svg("svg", { class: "parallel", id: "parallel-svg", width, height, viewBox: `0 0 ${width} ${height}` });
  trials.forEach((trial) => {
    const points = all.map((p, i) => {
      const value = i < parameters.length ? trial.params[p.name] : trial.values[objective];
      return `${margin.left + i * step},${y(position(p, value))}`;
    });
    const line = svg("polyline", { points: points.join(" "), stroke: colour((trial.values[objective] - low) / (high - low || 1)) });
    line.append(svg("title", {}, `trial ${trial.number}: ${objective} = ${label(trial.values[objective])}`));
    root.append(line);
  });
  all.forEach((p, i) => {
    const x = margin.left + i * step;
    const axis = svg("g", { class: "axis" });
    axis.append(svg("line", { x1: x, x2: x, y1: y(0), y2: y(1) }));
    axis.append(svg("text", { x, y: 14, "text-anchor": "middle", "font-weight": "bold" }, p.name));
    const ends = isNumeric(p) ? [p.low, p.high] : [p.choices[0], p.choices[p.choices.length - 1]];
    axis.append(svg("text", { x, y: y(0) + 16, "text-anchor": "middle" }, label(ends[0])));
    axis.append(svg("text", { x, y: y(1) - 8, "text-anchor": "middle" }, label(ends[1])));
    root.append(axis);
  });
  container.replaceChildren(root);
}
