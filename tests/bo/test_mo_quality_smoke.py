"""``benchmarks.mo_quality``: its score against brute force, and a tiny run of labelled methods with options."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from benchmarks import mo_quality

F64 = torch.float64


def _problem(name: str) -> mo_quality.MOProblem:
    return next(p for p in mo_quality.problems(quick=True) if p.name == name)


def test_hypervolume_score_equals_a_brute_force_count_of_dominated_grid_cells() -> None:
    problem = dataclasses.replace(_problem("dtlz2_6d"), ref_point=[1.0, 1.0])
    F = torch.tensor([[0.2, 0.7], [0.5, 0.4], [0.8, 0.1], [0.6, 0.6], [1.2, 0.0]], dtype=F64)  # minimised
    S = torch.zeros(5, 0, dtype=F64)
    # area of [0, 1]^2 weakly dominated by some point (minimisation, reference point (1, 1)), by a grid
    g = (torch.arange(1000, dtype=F64) + 0.5) / 1000
    grid = torch.cartesian_prod(g, g)
    covered = ((grid.unsqueeze(1) >= F.unsqueeze(0)).all(-1)).any(-1).double().mean()
    assert mo_quality.score(problem, F, S) == pytest.approx(float(covered), abs=2e-3)


def test_constrained_score_is_the_best_feasible_value() -> None:
    problem = _problem("constrained_gramacy")
    F = torch.tensor([[0.3], [0.7], [0.9]], dtype=F64)
    S = torch.tensor([[-0.1, 1.0], [0.2, 0.1], [0.5, 0.5]], dtype=F64)  # the first point is infeasible
    assert mo_quality.score(problem, F, S) == 0.7
    assert mo_quality.score(problem, F, -S.abs()) != mo_quality.score(problem, F, -S.abs())  # none feasible: NaN


def test_a_labelled_method_runs_with_its_options(monkeypatch, capsys, tmp_path) -> None:
    tiny = dataclasses.replace(_problem("branin_currin"), n_initial=4, n_total=7)
    monkeypatch.setattr(mo_quality, "problems", lambda quick: [tiny])
    seen = []
    real = mo_quality.run_bdlopt

    def spy(problem, surrogate, seed, options=None):
        seen.append((surrogate, options))
        return real(problem, surrogate, seed, options)

    monkeypatch.setattr(mo_quality, "run_bdlopt", spy)
    mo_quality.main(["--seeds", "1", "--methods", "random,gp-rbf:gp", "--options", 'gp-rbf={"kernel": "rbf"}',
                     "--plots", str(tmp_path)])
    printed = capsys.readouterr().out
    assert seen == [("random", None), ("gp", {"kernel": "rbf"})]
    assert "| branin_currin | bdlopt gp-rbf |" in printed and "| branin_currin | bdlopt random |" in printed
    assert (tmp_path / "mo_quality_branin_currin.png").stat().st_size > 0
    with pytest.raises(SystemExit):
        mo_quality.main(["--methods", "random,optuna", "--options", 'optuna={"kernel": "rbf"}'])
