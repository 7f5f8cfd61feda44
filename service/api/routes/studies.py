"""``/v1/studies``: create, list, read, delete."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from service.api.auth import PrincipalDep
from service.api.deps import DatabaseDep, SettingsDep
from service.api.schemas.common import BODY_RESPONSES, ERROR_RESPONSES, Offset, PageOf
from service.api.schemas.links import CREATED_STUDY_LINKS
from service.api.schemas.studies import StudyCreate, StudyOut
from service.studies import catalog

router = APIRouter(prefix="/v1/studies", tags=["studies"], responses=ERROR_RESPONSES)


@router.post("", status_code=status.HTTP_201_CREATED,
             responses={201: {"links": CREATED_STUDY_LINKS},
                        200: {"description": "the existing study of that name (the request describes it)",
                              "model": StudyOut},
                        **BODY_RESPONSES})
def create_study(body: StudyCreate, db: DatabaseDep, settings: SettingsDep, principal: PrincipalDep,
                 response: Response) -> StudyOut:
    """Create a study: its search space, objective and surrogate.

    A study name is unique per owner: when the name is taken, the existing study is returned (200)
    if the request describes it (resume by name), else 409 names the difference.
    """
    study, created = catalog.create_or_load_study(
        db, body, owner=principal.name, default_lease_seconds=settings.default_lease_seconds
    )
    if not created:
        response.status_code = status.HTTP_200_OK
    return StudyOut.of(study)


@router.get("")
def list_studies(
    db: DatabaseDep,
    principal: PrincipalDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Offset = 0,
    name: Annotated[str | None, Query(min_length=1, max_length=256, description="only the study of this name")] = None,
) -> PageOf[StudyOut]:
    """Your studies (an admin sees all), newest first."""
    page = catalog.list_studies(db, owner=principal.owner_filter(), limit=limit, offset=offset, name=name)
    return PageOf[StudyOut](
        items=[StudyOut.of(s) for s in page.items], total=page.total, limit=page.limit, offset=page.offset
    )


@router.get("/{study_id}")
def get_study(study_id: str, db: DatabaseDep, principal: PrincipalDep) -> StudyOut:
    """One study with its trial counts."""
    return StudyOut.of(catalog.get_study(db, study_id, owner=principal.owner_filter()))


@router.delete("/{study_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_study(study_id: str, db: DatabaseDep, principal: PrincipalDep) -> Response:
    """Delete a study and all its trials."""
    catalog.delete_study(db, study_id, owner=principal.owner_filter())
    return Response(status_code=status.HTTP_204_NO_CONTENT)
