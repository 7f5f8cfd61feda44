"""Whether a stored study is the one a create request describes (resume by name).

A study name is unique per owner. A create whose name is taken returns the existing study when the
request describes it (same parameters, objectives, surrogate and options; ``initial_design_size``,
``seed`` and ``lease_seconds`` only when the request sets them, since the server fills in defaults),
and is a 409 naming the first difference otherwise.
"""

from __future__ import annotations

from typing import Any

from service.db.models import StudyRecord
from service.studies.spec import StudySpec

#: Fields the request always states (its defaults included), compared as stored.
ALWAYS_COMPARED = ("parameters", "objectives", "surrogate", "surrogate_options", "outcome_constraints",
                   "parameter_constraints")
#: Fields the server fills in when the request leaves them out: compared only when given.
COMPARED_WHEN_GIVEN = ("initial_design_size", "seed", "lease_seconds")


def requested_values(spec: StudySpec) -> dict[str, Any]:
    """The stored form of every field the request pins down."""
    wanted: dict[str, Any] = {
        "parameters": [p.model_dump(mode="json", exclude_none=True) for p in spec.parameters],  # as stored
        "objectives": [o.model_dump(mode="json") for o in spec.objectives],
        "surrogate": spec.surrogate,
        "surrogate_options": dict(spec.surrogate_options),
        "outcome_constraints": [c.model_dump(mode="json") for c in spec.outcome_constraints],
        "parameter_constraints": [c.model_dump(mode="json") for c in spec.parameter_constraints],
    }
    for name in COMPARED_WHEN_GIVEN:
        value = getattr(spec, name)
        if value is not None:
            wanted[name] = value
    return wanted


def spec_difference(record: StudyRecord, spec: StudySpec) -> str | None:
    """``None`` when ``record`` is the study ``spec`` describes, else a message naming the first difference."""
    for name, wanted in requested_values(spec).items():
        stored = getattr(record, name)
        if name == "surrogate_options":
            stored = dict(stored or {})
        elif name in ("outcome_constraints", "parameter_constraints"):
            stored = list(stored or [])
        if stored != wanted:
            return (f"study '{record.name}' already exists with a different {name}: stored {stored!r}, "
                    f"requested {wanted!r}")
    return None
