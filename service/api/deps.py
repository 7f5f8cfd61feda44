"""FastAPI dependencies as ``Annotated`` aliases (the full-stack template's habit).

They only read ``app.state``, so they are ``async``: FastAPI runs a plain ``def`` dependency in its
thread pool, a hop per dependency per request (about a tenth of the event loop's samples under 16
clients, py-spy, ``benchmarks.throughput``).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from service.config import Settings
from service.db import Database


async def get_database(request: Request) -> Database:
    """The app's study database."""
    return request.app.state.database


async def get_app_settings(request: Request) -> Settings:
    """The settings the app was built with."""
    return request.app.state.settings


DatabaseDep = Annotated[Database, Depends(get_database)]
SettingsDep = Annotated[Settings, Depends(get_app_settings)]
