"""``/v1/datasets``: upload (multipart), list, read, delete; built-ins are read by name."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request, Response, status
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from service.api.auth import PrincipalDep
from service.api.deps import DatabaseDep, SettingsDep
from service.api.schemas.common import ERROR_RESPONSES, ErrorBody, Offset, PageOf
from service.api.schemas.datasets import DatasetOut
from service.api.schemas.links import UPLOADED_DATASET_LINKS
from service.datasets import catalog
from service.errors import InvalidInputError

router = APIRouter(prefix="/v1/datasets", tags=["datasets"], responses=ERROR_RESPONSES)

#: Allowance for the multipart envelope (boundaries, part headers, small fields) above the file size.
MULTIPART_OVERHEAD_BYTES = 64 * 1024
_CHUNK = 1024 * 1024

_UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {"multipart/form-data": {"schema": {
            "type": "object",
            "required": ["file"],
            "properties": {
                "file": {"type": "string", "format": "binary",
                         "description": "CSV with a header row, or .npz with arrays X (N, D) and y (N,)"},
                "categorical": {"type": "string",
                                "description": "Comma-separated CSV columns holding categories"},
            },
        }}},
    }
}


def _too_large(limit: int) -> HTTPException:
    return HTTPException(status_code=413, detail=f"the dataset is larger than the limit of {limit} bytes")


@router.post("", status_code=status.HTTP_201_CREATED, openapi_extra=_UPLOAD_BODY,
             responses={201: {"links": UPLOADED_DATASET_LINKS},
                        400: {"model": ErrorBody, "description": "The body is not a well-formed multipart form"},
                        413: {"model": ErrorBody, "description": "The file is larger than the limit"}})
async def upload_dataset(request: Request, db: DatabaseDep, settings: SettingsDep,
                         principal: PrincipalDep) -> DatasetOut:
    """Upload a table in the form field ``file``; numeric columns unless listed in ``categorical``."""
    limit = settings.dataset_max_bytes
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit + MULTIPART_OVERHEAD_BYTES:
        raise _too_large(limit)
    async with request.form(max_files=1, max_fields=8) as form:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise InvalidInputError("file: a multipart form field 'file' with the dataset is required", field="file")
        chunks, size = [], 0
        while chunk := await upload.read(_CHUNK):
            size += len(chunk)
            if size > limit:
                raise _too_large(limit)
            chunks.append(chunk)
        raw_categorical = form.get("categorical")
        categorical = [name.strip() for name in str(raw_categorical or "").split(",") if name.strip()]
        filename = upload.filename
    dataset = await run_in_threadpool(catalog.create_dataset, db, settings.resolved_datasets_dir(),
                                      filename=filename, data=b"".join(chunks), categorical=categorical,
                                      owner=principal.name)
    return DatasetOut.of(dataset)


@router.get("")
def list_datasets(
    db: DatabaseDep,
    principal: PrincipalDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Offset = 0,
) -> PageOf[DatasetOut]:
    """Uploaded datasets, newest first (built-ins such as ``sklearn:digits`` are read by name)."""
    page = catalog.list_datasets(db, owner=principal.owner_filter(), limit=limit, offset=offset)
    return PageOf[DatasetOut](items=[DatasetOut.of(d) for d in page.items], total=page.total, limit=page.limit,
                              offset=page.offset)


@router.get("/{dataset_id}")
def get_dataset(dataset_id: str, db: DatabaseDep, principal: PrincipalDep) -> DatasetOut:
    """An uploaded dataset, or a built-in one: sklearn:digits, sklearn:breast_cancer, sklearn:diabetes, sklearn:wine."""
    return DatasetOut.of(catalog.get_dataset(db, dataset_id, owner=principal.owner_filter()))


@router.delete("/{dataset_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_dataset(dataset_id: str, db: DatabaseDep, settings: SettingsDep, principal: PrincipalDep) -> Response:
    """Delete an uploaded dataset (409 for built-ins and for datasets of queued or running jobs)."""
    catalog.delete_dataset(db, settings.resolved_datasets_dir(), dataset_id, owner=principal.owner_filter())
    return Response(status_code=status.HTTP_204_NO_CONTENT)
