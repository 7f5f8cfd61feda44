// Questions to a study's surrogate, all through POST /v1/studies/{id}/predict.
import { api } from "./api.js";
import { saltelliDesign, sobolIndices } from "./sobol.js";
import { gridValues, pointsFromUnit, seededRandom } from "./space.js";

const PREDICT_BATCH = 1000; // the endpoint's limit of points per call
const IMPORTANCE_POINTS = 4000;

/** Mean and sd at ``points`` (params objects), in batches the endpoint accepts. */
export async function predict(studyId, points) {
  const mean = [];
  const sd = [];
  for (let start = 0; start < points.length; start += PREDICT_BATCH) {
    const out = await api(`/v1/studies/${studyId}/predict`, { method: "POST", body: { points: points.slice(start, start + PREDICT_BATCH) } });
    mean.push(...out.mean);
    sd.push(...out.sd);
  }
  return { mean, sd };
}

/** Sobol indices of the surrogate mean over the search space (uniform in the optimiser's unit cube). */
export async function importances(studyId, parameters) {
  const size = Math.max(32, Math.floor(IMPORTANCE_POINTS / (parameters.length + 2)));
  const design = saltelliDesign(parameters.length, size, seededRandom(12345));
  const { mean } = await predict(studyId, pointsFromUnit(parameters, design.rows));
  return sobolIndices(design, mean);
}

/** For each parameter: its grid and the surrogate along it, the other parameters at ``anchor``. */
export async function slices(studyId, parameters, anchor, size = 60) {
  const grids = parameters.map((p) => gridValues(p, size));
  const points = parameters.flatMap((p, i) => grids[i].map((value) => ({ ...anchor, [p.name]: value })));
  const { mean, sd } = await predict(studyId, points);
  let offset = 0;
  return parameters.map((parameter, i) => {
    const n = grids[i].length;
    const slice = { parameter, grid: grids[i], mean: mean.slice(offset, offset + n), sd: sd.slice(offset, offset + n) };
    offset += n;
    return slice;
  });
}

/** The surrogate mean on a size x size grid of two numeric parameters; z[row = y][column = x]. */
export async function contour(studyId, px, py, anchor, size = 30) {
  const xs = gridValues(px, size);
  const ys = gridValues(py, size);
  const points = ys.flatMap((y) => xs.map((x) => ({ ...anchor, [px.name]: x, [py.name]: y })));
  const { mean } = await predict(studyId, points);
  const z = ys.map((_, row) => mean.slice(row * xs.length, (row + 1) * xs.length));
  return { xs, ys, z };
}
