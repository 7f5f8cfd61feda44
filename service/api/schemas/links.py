"""OpenAPI links: how the response of one operation feeds the next.

The main flow is create a study -> suggest -> observe (-> suggest again); datasets and jobs link
their id to the operations that read them. Clients and generators read these from the document,
and the stateful fuzz test (tests/security/test_schemathesis.py) follows exactly these links.
"""

from __future__ import annotations

from typing import Any

STUDY = "/v1/studies/{study_id}"
DATASET = "/v1/datasets/{dataset_id}"
JOB = "/v1/jobs/{job_id}"


def operation_ref(path: str, method: str) -> str:
    """JSON pointer to the operation ``method path`` of this document (``~`` and ``/`` escaped)."""
    return "#/paths/" + path.replace("~", "~0").replace("/", "~1") + "/" + method


def link(path: str, method: str, description: str, parameters: dict[str, str],
         request_body: dict[str, Any] | None = None) -> dict[str, Any]:
    """An OpenAPI Link object; ``parameters`` map ``path.<name>`` to runtime expressions."""
    definition: dict[str, Any] = {"operationRef": operation_ref(path, method), "description": description,
                                  "parameters": parameters}
    if request_body is not None:
        definition["requestBody"] = request_body
    return definition


_NEW_STUDY = {"path.study_id": "$response.body#/id"}
_SAME_STUDY = {"path.study_id": "$request.path.study_id"}
_FIRST_TRIAL = {"path.study_id": "$request.path.study_id", "path.trial_id": "$response.body#/trials/0/id"}
_TRIAL_STUDY = {"path.study_id": "$response.body#/study_id"}

CREATED_STUDY_LINKS = {
    "GetStudy": link(STUDY, "get", "Read the new study", _NEW_STUDY),
    "SuggestTrials": link(f"{STUDY}/suggest", "post", "Ask for the first points to evaluate", _NEW_STUDY),
    "ObserveOutsidePoint": link(f"{STUDY}/observe", "post", "Record a measurement taken at your own params",
                                _NEW_STUDY),
}

SUGGESTED_TRIALS_LINKS = {
    "ObserveTrial": link(f"{STUDY}/observe", "post", "Record the measured values of the first suggested trial",
                         _SAME_STUDY, {"trial_id": "$response.body#/trials/0/id"}),
    "FailTrial": link(f"{STUDY}/trials/{{trial_id}}/fail", "post", "The first trial's evaluation failed",
                      _FIRST_TRIAL),
    "AbandonTrial": link(f"{STUDY}/trials/{{trial_id}}/abandon", "post", "The first trial will not be evaluated",
                         _FIRST_TRIAL),
    "HeartbeatTrial": link(f"{STUDY}/trials/{{trial_id}}/heartbeat", "post",
                           "Extend the first trial's lease", _FIRST_TRIAL),
}

OBSERVED_TRIAL_LINKS = {
    "SuggestNext": link(f"{STUDY}/suggest", "post", "Ask for the next points", _TRIAL_STUDY),
    "BestTrial": link(f"{STUDY}/best", "get", "The best trial so far", _TRIAL_STUDY),
}

UPLOADED_DATASET_LINKS = {
    "GetDataset": link(DATASET, "get", "Read the dataset", {"path.dataset_id": "$response.body#/id"}),
    "DeleteDataset": link(DATASET, "delete", "Delete the dataset", {"path.dataset_id": "$response.body#/id"}),
}

SUBMITTED_JOB_LINKS = {
    "GetJob": link(JOB, "get", "Follow the job's state and progress", {"path.job_id": "$response.body#/id"}),
    "CancelJob": link(f"{JOB}/cancel", "post", "Cancel the job", {"path.job_id": "$response.body#/id"}),
    "GetJobResult": link(f"{JOB}/result", "get", "The result, once the job succeeded",
                         {"path.job_id": "$response.body#/id"}),
}
