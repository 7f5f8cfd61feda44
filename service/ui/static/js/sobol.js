// First-order and total Sobol indices of a function on the unit cube, by the Saltelli (2010)
// pick-freeze design: matrices A and B of independent uniform rows and, for each input i, A with
// column i taken from B. First order: mean(f(B) (f(AB_i) - f(A))) / Var f (Saltelli et al. 2010);
// total: mean((f(A) - f(AB_i))^2) / (2 Var f) (Jansen 1999). The dashboard applies it to the
// surrogate's posterior mean, evaluated through the public predict endpoint.

/** The design: {A, B, AB, rows} where ``rows`` lists every point to evaluate (A, B, then AB_0..AB_{d-1}). */
export function saltelliDesign(dimension, size, random) {
  const draw = () => Array.from({ length: dimension }, () => random());
  const A = Array.from({ length: size }, draw);
  const B = Array.from({ length: size }, draw);
  const AB = [];
  for (let i = 0; i < dimension; i += 1) AB.push(A.map((row, n) => row.map((value, j) => (j === i ? B[n][j] : value))));
  return { A, B, AB, rows: [...A, ...B, ...AB.flat()] };
}

/** Indices from the values at ``design.rows`` (same order): {first: [...], total: [...], variance}. */
export function sobolIndices(design, values) {
  const size = design.A.length;
  const dimension = design.AB.length;
  // Centred on the mean of f(A) and f(B): the estimators are unchanged in expectation, but an
  // offset no longer inflates their variance (a loss around 100 with effects of size 1).
  const base = values.slice(0, 2 * size);
  const mean = base.reduce((s, v) => s + v, 0) / base.length;
  const centred = values.map((v) => v - mean);
  const fA = centred.slice(0, size);
  const fB = centred.slice(size, 2 * size);
  const variance = [...fA, ...fB].reduce((s, v) => s + v ** 2, 0) / (2 * size);
  const first = [];
  const total = [];
  for (let i = 0; i < dimension; i += 1) {
    const fAB = centred.slice((2 + i) * size, (3 + i) * size);
    let firstSum = 0;
    let totalSum = 0;
    for (let n = 0; n < size; n += 1) {
      firstSum += fB[n] * (fAB[n] - fA[n]);
      totalSum += (fA[n] - fAB[n]) ** 2;
    }
    first.push(variance > 0 ? firstSum / size / variance : 0);
    total.push(variance > 0 ? totalSum / (2 * size) / variance : 0);
  }
  return { first, total, variance };
}
