"""The client side of the crash tests: one ``optimize`` call that a test kills and runs again.

``python -m tests.workflow.crash_client BASE_URL CALLS_FILE JOURNAL_FILE N_TRIALS``: each call of the
objective that returns appends one JSON line ``{"params", "value"}`` to CALLS_FILE (just before
returning), so the test can count the evaluations and match them with the study's trials.
"""

from __future__ import annotations

import json
import random
import sys
import time

from bdlopt_client import Client

SPACE = [{"name": "x", "type": "float", "low": -5.0, "high": 10.0},
         {"name": "y", "type": "float", "low": 0.0, "high": 15.0}]


def main(base_url: str, calls_file: str, journal_file: str, n_trials: int) -> None:
    client = Client(base_url, retry_deadline=90.0)
    study = client.create_study("crash", SPACE, objective="loss", surrogate="random", seed=0, load_if_exists=True)

    def fn(params: dict) -> float:
        time.sleep(random.uniform(0.1, 0.5))
        value = (params["x"] - 1.0) ** 2 + (params["y"] - 2.0) ** 2
        with open(calls_file, "a") as handle:
            handle.write(json.dumps({"params": params, "value": value}) + "\n")
        return value

    client.optimize(fn, study, n_trials=n_trials, n_jobs=4, journal=journal_file, client_id="crash-test",
                    progress=False)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]))
