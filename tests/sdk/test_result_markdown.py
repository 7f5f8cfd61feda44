"""``JobResult.to_markdown()`` renders every kind, leading with the Laplace-versus-MAP verdict."""

from __future__ import annotations

from service.sdk.job_models import JobResult

LAPLACE = {"structure": "kron", "prior_tuning": "marglik", "map": {"nll": 0.087, "accuracy": 0.97, "ece": 0.038},
           "laplace": {"nll": 0.139, "accuracy": 0.97, "ece": 0.082}, "laplace_beats_map": {"nll": False, "ece": False},
           "advice": "The Laplace predictive is worse than the MAP network on the held-out NLL.",
           "log_marginal_likelihood": -120.5, "log_marginal_likelihood_before_tuning": -300.0,
           "prior_precision": [1.0, 2.0], "sigma_noise": None}


def test_laplace_markdown_states_the_verdict_advice_and_both_predictives() -> None:
    text = JobResult(job_id="j", kind="laplace", result=LAPLACE).to_markdown()
    assert "Laplace beats MAP on the held-out split? nll: no, ece: no" in text
    assert "> The Laplace predictive is worse" in text
    assert "| MAP | 0.087 | 0.97 | 0.038 |" in text and "| Laplace | 0.139 | 0.97 | 0.082 |" in text


def test_marglik_markdown_has_one_row_per_candidate() -> None:
    candidate = {"name": "0:mlp-50/kron/layerwise", "log_marginal_likelihood": -10.0, "map": {"nll": 0.13},
                 "laplace": {"nll": 0.33, "accuracy": 0.9}, "laplace_beats_map": {"nll": False}}
    result = {"chosen": candidate["name"], "best_on_test": candidate["name"], "selection_metric": "accuracy",
              "candidates": [candidate, {**candidate, "name": "1:mlp-100-100/kron/layerwise"}],
              "laplace_beats_map": {"nll": False, "ece": True}, "advice": None}
    text = JobResult(job_id="j", kind="marglik", result=result).to_markdown()
    assert text.count("| 0:mlp-50/kron/layerwise |") == 1 and "| 1:mlp-100-100/kron/layerwise |" in text
    assert "nll: no, ece: yes" in text and "| 0.13 | 0.33 | 0.9 | False |" in text


def test_nam_prune_and_unknown_kinds_render() -> None:
    nam = {"metrics": {"laplace": {"rmse": 0.5}}, "importances": [
        {"term": 0, "label": "bmi", "features": [0], "prior_precision": 2.0, "variance": 1.0, "share": 0.7}]}
    assert "| bmi | 0.700 | 2 |" in JobResult(job_id="j", kind="nam", result=nam).to_markdown()
    prune = {"metric": "accuracy", "training": "map", "structure": "diag", "dense": {"accuracy": 0.95},
             "table": [{"criterion": "magnitude", "sparsity": 0.5, "accuracy": 0.9},
                       {"criterion": "magnitude", "sparsity": 0.9, "accuracy": 0.6}]}
    text = JobResult(job_id="j", kind="prune", result=prune).to_markdown()
    assert "| criterion | 50% | 90% |" in text and "| magnitude | 0.9 | 0.6 |" in text
    other = JobResult(job_id="j", kind="equivariance", result={"error": 0.01, "curve": [1, 2]}).to_markdown()
    assert "| error | 0.01 |" in other and "curve" not in other
