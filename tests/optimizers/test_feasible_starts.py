"""Raw samples for starting points inside linear constraints: feasible, uniform on the polytope, and
the hit-and-run fallback for a thin polytope (float64)."""

from __future__ import annotations

import torch

from service.optimizers.feasible_starts import initial_conditions_generator, satisfies, sobol_polytope_sampler

F64 = torch.float64
UNIT_SQUARE = torch.tensor([[0.0, 0.0], [1.0, 1.0]], dtype=F64)


def _at_most(total: float) -> list:
    """``x0 + x1 <= total`` in BoTorch's form ``-x0 - x1 >= -total``."""
    return [(torch.tensor([0, 1]), torch.tensor([-1.0, -1.0], dtype=F64), -total)]


def test_satisfies_is_the_constraint_row_by_row() -> None:
    X = torch.tensor([[0.2, 0.3], [0.6, 0.5], [0.5, 0.5], [1.0, 0.0]], dtype=F64)
    assert satisfies(X, _at_most(1.0)).tolist() == [True, False, True, True]
    two = _at_most(1.0) + [(torch.tensor([0]), torch.tensor([1.0], dtype=F64), 0.4)]  # and x0 >= 0.4
    assert satisfies(X, two).tolist() == [False, False, True, True]


def test_samples_are_feasible_and_uniform_on_the_triangle() -> None:
    generate = sobol_polytope_sampler(UNIT_SQUARE, _at_most(1.0), seed=0)
    X = generate(512, 2, None)
    assert X.shape == (512, 2, 2) and X.dtype == F64
    flat = X.reshape(-1, 2)
    assert bool(((flat >= 0) & (flat <= 1)).all()) and bool(satisfies(flat, _at_most(1.0)).all())
    # the triangle's centroid is (1/3, 1/3); the fraction below x0 + x1 <= 1/2 is its area ratio, 1/4
    torch.testing.assert_close(flat.mean(0), torch.full((2,), 1 / 3, dtype=F64), atol=0.01, rtol=0)
    assert abs(float((flat.sum(-1) <= 0.5).double().mean()) - 0.25) < 0.02
    assert torch.unique(flat, dim=0).shape[0] == 1024  # no repeated points


def test_a_thin_polytope_falls_back_to_hit_and_run() -> None:
    thin = [(torch.tensor([0, 1]), torch.tensor([1.0, 1.0], dtype=F64), 1.999)]  # x0 + x1 >= 1.999: area 5e-7
    X = sobol_polytope_sampler(UNIT_SQUARE, thin, seed=1)(8, 1, None).reshape(-1, 2)
    assert X.shape == (8, 2) and bool(satisfies(X, thin).all())
    assert bool(((X >= 0) & (X <= 1 + 1e-12)).all())


def test_no_constraints_leave_botorch_default() -> None:
    assert initial_conditions_generator(UNIT_SQUARE, None, 0) is None
    assert initial_conditions_generator(UNIT_SQUARE, [], 0) is None
    assert initial_conditions_generator(UNIT_SQUARE, _at_most(1.0), 0) is not None
