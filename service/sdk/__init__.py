"""bdlopt Python SDK: a typed HTTP client of the bdlopt REST API (openapi/openapi.json, served at /docs).

Depends only on httpx, pydantic and tqdm and imports nothing of the server, so it can be installed
and used on machines that only run evaluations::

    from service.sdk import Client
"""

from .client import Client
from .errors import (
    AuthenticationError,
    BadRequestError,
    BdloptConnectionError,
    BdloptError,
    ConflictError,
    NotFoundError,
    PayloadTooLargeError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
    ServiceUnavailableError,
    ValidationError,
)
from .errors import ConnectionError  # noqa: A004 - the SDK's alias of BdloptConnectionError
from .models import Objective, Prediction, Study, StudyPage, Trial, TrialPage
from .transport import RetryPolicy

# ``ConnectionError`` is importable by name but left out of ``__all__`` so that a star import does not
# shadow the builtin.
__all__ = [
    "AuthenticationError",
    "BadRequestError",
    "BdloptConnectionError",
    "BdloptError",
    "Client",
    "ConflictError",
    "NotFoundError",
    "Objective",
    "PayloadTooLargeError",
    "PermissionDeniedError",
    "Prediction",
    "RateLimitError",
    "RetryPolicy",
    "ServerError",
    "ServiceUnavailableError",
    "Study",
    "StudyPage",
    "Trial",
    "TrialPage",
    "ValidationError",
]
