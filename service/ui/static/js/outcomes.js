// What a study measures, as the study page shows it: its objectives, the tracked metrics of its
// outcome constraints, and how a trial's feasibility reads.

export function objectiveNames(study) { return study.objectives.map((o) => o.name); }

export function isMultiObjective(study) { return study.objectives.length > 1; }

export function isConstrained(study) {
  return (study.outcome_constraints || []).length > 0 || (study.parameter_constraints || []).length > 0;
}

/** Objectives first, then the metrics that only constraints name (every observation reports them). */
export function measuredNames(study) {
  const names = objectiveNames(study);
  for (const c of study.outcome_constraints || []) if (!names.includes(c.metric)) names.push(c.metric);
  return names;
}

/** "yes", "no" or "" (a trial without values) for a trial's ``feasible`` flag. */
export function feasibleText(trial) {
  return trial.feasible === true ? "yes" : trial.feasible === false ? "no" : "";
}

function coefficientTerm(name, c, first) {
  const sign = c < 0 ? "-" : first ? "" : "+";
  const size = Math.abs(c) === 1 ? "" : `${Math.abs(c)}*`;
  return `${first ? sign : ` ${sign} `}${size}${name}`;
}

/** Constraints as a reader writes them: "latency <= 0.5", "lr + 0.1*layers <= 1.2". */
export function constraintTexts(study) {
  const outcome = (study.outcome_constraints || []).map((c) => `${c.metric} ${c.op} ${c.bound}`);
  const linear = (study.parameter_constraints || []).map((c) =>
    `${Object.entries(c.coefficients).map(([name, k], i) => coefficientTerm(name, k, i === 0)).join("")} ${c.op} ${c.bound}`);
  return [...outcome, ...linear];
}
