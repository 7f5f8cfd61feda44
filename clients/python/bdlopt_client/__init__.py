"""bdlopt Python SDK: a typed HTTP client of the bdlopt REST API (openapi/openapi.json, served at /docs).

Depends only on httpx, pydantic and tqdm and imports nothing of the server, so it can be installed
and used on machines that only run evaluations::

    from bdlopt_client import Client  # or, on a server install: from service.sdk import Client
"""

from importlib import metadata as _metadata

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
from .report_result import ReportResult
from .transport import RetryPolicy
from .trial_handle import TrialHandle
from .trial_stopped import TrialStopped

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
    "ReportResult",
    "RetryPolicy",
    "ServerError",
    "ServiceUnavailableError",
    "Study",
    "StudyPage",
    "Trial",
    "TrialHandle",
    "TrialPage",
    "TrialStopped",
    "ValidationError",
]

#: The modules of the SDK (``service.sdk`` aliases each under its own name).
SUBMODULES = ("client", "constraint_strings", "errors", "evaluation", "export", "job_models", "jobs", "journal", "models",
              "nam", "optimize", "pruning", "report_result", "result_markdown", "transport", "trial_handle", "trial_stopped", "wire")

try:
    __version__ = _metadata.version("bdlopt-client")
except _metadata.PackageNotFoundError:  # a source checkout that was not installed
    __version__ = "0+unknown"
