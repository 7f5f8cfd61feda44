// Points of a study's search space from the unit cube, as the optimiser sees it: numeric parameters
// linear or in log space between low and high, integers rounded, categoricals as equal-width cells.

export function isNumeric(parameter) { return parameter.type === "float" || parameter.type === "int"; }

/** The parameter value at u in [0, 1]. */
export function fromUnit(parameter, u) {
  if (parameter.type === "categorical") {
    const k = parameter.choices.length;
    return parameter.choices[Math.min(k - 1, Math.floor(u * k))];
  }
  const { low, high } = parameter;
  let value = parameter.log ? Math.exp(Math.log(low) + u * (Math.log(high) - Math.log(low))) : low + u * (high - low);
  if (parameter.type === "int") value = Math.round(value);
  return Math.min(high, Math.max(low, value)); // exp(log(high)) may exceed high by a rounding error
}

/** Values along a parameter for a slice: ``size`` evenly spaced (in its scale), distinct integers, or the choices. */
export function gridValues(parameter, size) {
  if (parameter.type === "categorical") return [...parameter.choices];
  const values = [];
  for (let i = 0; i < size; i += 1) values.push(fromUnit(parameter, i / (size - 1)));
  return parameter.type === "int" ? [...new Set(values)] : values;
}

/** A small seeded generator (mulberry32), so an importance estimate is the same on every refresh. */
export function seededRandom(seed) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Params objects for rows of unit-cube coordinates. */
export function pointsFromUnit(parameters, unitRows) {
  return unitRows.map((row) => Object.fromEntries(parameters.map((p, j) => [p.name, fromUnit(p, row[j])])));
}
