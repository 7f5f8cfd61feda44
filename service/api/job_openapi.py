"""The ``POST /v1/jobs`` request body in the OpenAPI document: a discriminated union on ``kind``.

The route validates ``JobSpec`` and then the kind's own config model (so unknown kinds and config
fields get the service's messages); this module publishes the same models, one request schema per
registered kind (``<Kind>JobCreate``, whose ``config`` is that kind's pydantic config model with
every default, bound and description), so ``/docs`` lists every field. The schema is built from
the registry when the document is first generated, so a kind registered by a plugin appears too.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from fastapi import FastAPI
from pydantic import Field, TypeAdapter, create_model

from service.jobs.registry import JobKind, kinds
from service.jobs.spec import JobSpec

JOBS_PATH = "/v1/jobs"


def request_model(kind: JobKind) -> type[JobSpec]:
    """The request body of one kind: ``JobSpec`` with ``kind`` fixed and ``config`` typed."""
    title = "".join(part.capitalize() for part in kind.name.replace("-", "_").split("_"))
    return create_model(
        f"{title}JobCreate", __base__=JobSpec, __doc__=f"A ``{kind.name}`` job request: {kind.summary or kind.name}.",
        kind=(Literal[kind.name], Field(description="The job kind.")),  # type: ignore[valid-type]
        config=(kind.config, Field(default_factory=kind.config, description=f"Settings of the {kind.name} kind.")),
    )


def job_request_schema(registered: dict[str, JobKind]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The union schema (``oneOf`` + ``discriminator``) and the component schemas it refers to."""
    models = tuple(request_model(registered[name]) for name in sorted(registered))
    union = Annotated[Union[models], Field(discriminator="kind")]  # noqa: UP007 - a runtime tuple of models
    schema = TypeAdapter(union).json_schema(ref_template="#/components/schemas/{model}", mode="validation")
    return {k: v for k, v in schema.items() if k != "$defs"}, schema.get("$defs", {})


BUILTIN_KINDS_PACKAGE = "service.jobs.kinds."


def published_kinds(plugin_modules: list[str]) -> dict[str, JobKind]:
    """The built-in kinds and those registered by ``plugin_modules`` (not kinds other apps in this
    process loaded)."""
    return {name: kind for name, kind in kinds().items()
            if kind.run.__module__.startswith(BUILTIN_KINDS_PACKAGE) or kind.run.__module__ in plugin_modules}


def install(app: FastAPI, plugin_modules: list[str]) -> None:
    """Make ``app.openapi()`` publish the job request union (computed once, on first use)."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        document = generate()
        body, components = job_request_schema(published_kinds(plugin_modules))
        content = document["paths"][JOBS_PATH]["post"]["requestBody"]["content"]["application/json"]
        content["schema"] = body
        document.setdefault("components", {}).setdefault("schemas", {}).update(components)
        app.openapi_schema = document
        return document

    app.openapi = openapi  # type: ignore[method-assign]
