"""Data out and in: a study's export document, its import as a new study, and its trials as CSV."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response, status
from pydantic import BaseModel, ConfigDict, Field

from service.api.auth import PrincipalDep
from service.api.deps import DatabaseDep
from service.api.schemas.common import BODY_RESPONSES, ERROR_RESPONSES
from service.api.schemas.studies import StudyOut
from service.studies import export, trials_csv

router = APIRouter(prefix="/v1/studies", tags=["studies"], responses=ERROR_RESPONSES)


class StudyDocument(BaseModel):
    """A study with all its trials (``format`` "bdlopt.study", ``version`` 1); see service/studies/export.py."""

    model_config = ConfigDict(extra="forbid")

    format: str = Field(description="always 'bdlopt.study'")
    version: int = Field(description="the format version; this server writes and reads 1")
    study: dict[str, Any] = Field(description="name, parameters, objectives, surrogate, surrogate_options, "
                                              "initial_design_size, seed, lease_seconds, created_at")
    trials: list[dict[str, Any]] = Field(description="number, params, state, values, noise_sd, client_id, source, "
                                                     "policy, fail_reason, created_at, completed_at, lease_expires_at")


@router.get("/{study_id}/export")
def export_study(study_id: str, db: DatabaseDep, principal: PrincipalDep) -> StudyDocument:
    """The study and every trial as one versioned JSON document (ids left out)."""
    return StudyDocument.model_validate(export.export_study(db, study_id, owner=principal.owner_filter()))


@router.post("/import", status_code=status.HTTP_201_CREATED, responses=BODY_RESPONSES)
def import_study(
    body: StudyDocument, db: DatabaseDep, principal: PrincipalDep,
    name: Annotated[str | None, Query(min_length=1, max_length=256, description="store under this name")] = None,
) -> StudyOut:
    """A new study (new ids) holding the exported study's spec and trials; 409 when the name is taken."""
    return StudyOut.of(export.import_study(db, body.model_dump(), owner=principal.name, name=name))


@router.get("/{study_id}/trials.csv", response_class=Response,
            responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}},
                             "description": "one row per trial; params_<parameter> and values_<objective> columns"}})
def trials_as_csv(study_id: str, db: DatabaseDep, principal: PrincipalDep) -> Response:
    """Every trial as CSV, one column per parameter and per objective."""
    text = trials_csv.trials_csv(db, study_id, owner=principal.owner_filter())
    return Response(content=text, media_type="text/csv; charset=utf-8")
