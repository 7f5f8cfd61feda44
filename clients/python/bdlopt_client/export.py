"""Data out and in (mixed into :class:`bdlopt_client.Client`): CSV, DataFrame, export and import.

``export(study, path)`` writes the server's versioned export document (``GET .../export``) to a JSON
file; ``import_study(path)`` posts such a file (``POST /v1/studies/import``) and returns the new
study. ``trials_dataframe(study)`` needs pandas (``pip install 'bdlopt-client[pandas]'``).
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from .models import Study

if TYPE_CHECKING:
    from .transport import ApiTransport


def _path(study: str | Study) -> str:
    return "/v1/studies/" + quote(study.id if isinstance(study, Study) else study, safe="")


class ExportMixin:
    """Methods that move a study's data out of and into the server."""

    _transport: ApiTransport

    def trials_csv(self, study: str | Study) -> str:
        """Every trial as CSV text (``GET .../trials.csv``): ``params_<name>`` and ``values_<objective>`` columns."""
        return self._transport.request("GET", _path(study) + "/trials.csv", idempotent=True).text

    def trials_dataframe(self, study: str | Study) -> Any:
        """Every trial as a pandas DataFrame, one row per trial, the columns of :meth:`trials_csv`.

        Raises:
            ImportError: pandas is not installed.
        """
        try:
            import pandas
        except ImportError as error:  # pragma: no cover - depends on the environment
            raise ImportError("trials_dataframe needs pandas: pip install 'bdlopt-client[pandas]'") from error
        return pandas.read_csv(io.StringIO(self.trials_csv(study)))

    def export_study(self, study: str | Study) -> dict[str, Any]:
        """The study's export document (``GET .../export``): spec, trials, values and states."""
        return self._transport.request("GET", _path(study) + "/export", idempotent=True).json()

    def export(self, study: str | Study, path: str | os.PathLike[str]) -> Path:
        """Write the study's export document to ``path`` (JSON) and return the path."""
        target = Path(path)
        target.write_text(json.dumps(self.export_study(study), indent=1), encoding="utf-8")
        return target

    def import_study(self, path_or_document: str | os.PathLike[str] | dict[str, Any],
                     name: str | None = None) -> Study:
        """Create a new study from an export file or document (``POST /v1/studies/import``).

        Args:
            path_or_document: a file written by :meth:`export`, or the document itself.
            name: store the study under this name instead of the exported one (names are unique per owner).
        """
        if isinstance(path_or_document, dict):
            document = path_or_document
        else:
            document = json.loads(Path(path_or_document).read_text(encoding="utf-8"))
        response = self._transport.request("POST", "/v1/studies/import", json=document,
                                           params={"name": name}, idempotent=False)
        return Study.model_validate(response.json())
