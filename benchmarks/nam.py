"""LA-NAM benchmark: held-out metrics against a MAP-trained NAM and a linear model, and checks
against a known truth on synthetic data (prints markdown tables).

Data (80/20 splits, one per seed): scikit-learn's bundled diabetes (regression) and
breast_cancer (binary classification), features and regression targets standardised with the
training statistics; and the synthetic problem of :mod:`bdl_core.nam.synthetic` (four known
shapes, a three-level categorical feature, ``--noise-features`` pure-noise features and the
product interaction 1.5 x2 x3).

Models, same architecture (one hidden layer of 64 GELU units per feature) and epochs:

* LA-NAM: online marginal likelihood, a prior precision per layer of every subnetwork, learned
  noise, linearised-Laplace predictive (probit for classification);
* MAP NAM: the same network trained with a fixed prior precision 1 (weight decay) and, for
  regression, the noise set to the training RMSE;
* linear: ridge regression / L2 logistic regression with the penalty chosen by 5-fold CV
  (scikit-learn), Gaussian noise from the training residuals.

On the synthetic data it also reports, per true shape, the share of a 100-point grid where the
centred truth lies inside the 95% band; the learned prior precisions of noise and true features;
the rank of the true pair under both rankings; and the second stage (true pair added).

    python -m benchmarks.nam [--seeds 3] [--epochs 200] [--threads 1] [--plot docs/images/nam_bmi.png]
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import torch

from bdl_core import calibration
from bdl_core.nam import (
    Feature,
    LaNamSettings,
    OnlineMarglikSettings,
    fit_lanam,
    rank_interactions,
    shape_functions,
    term_importances,
)
from bdl_core.nam.synthetic import make_additive_data


def _split(X: np.ndarray, y: np.ndarray, seed: int, classification: bool):
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(y))
    n_test = round(0.2 * len(y))
    test, train = order[:n_test], order[n_test:]
    mu, sd = X[train].mean(0), X[train].std(0)
    sd[sd == 0] = 1.0
    Xs = (X - mu) / sd
    if classification:
        ys = y.astype(np.float64)
    else:
        ys = (y - y[train].mean()) / y[train].std()
    t = lambda a: torch.as_tensor(a, dtype=torch.float32)  # noqa: E731
    return t(Xs[train]), t(Xs[test]), t(ys[train]), t(ys[test])


def _reg_metrics(mean: torch.Tensor, var: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
    return {"rmse": calibration.rmse(mean, y), "nll": calibration.gaussian_negative_log_likelihood(mean, var, y)}


def _clf_metrics(p: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
    probs = torch.stack([1 - p, p], dim=1)
    return {"auroc": calibration.auroc(p, y), "nll": calibration.negative_log_likelihood(probs, y.long()),
            "accuracy": calibration.accuracy(probs, y)}


def run_lanam(Xtr, Xte, ytr, yte, features, task, epochs, seed, learn=True, interactions=0):
    """Fit an LA-NAM (``learn``) or a MAP NAM (fixed priors) and evaluate it; returns (metrics, result, seconds)."""
    training = OnlineMarglikSettings(epochs=epochs, learn_hyperparameters=learn)
    started = time.perf_counter()
    result = fit_lanam(Xtr, ytr, features, task, LaNamSettings(training=training, interactions=interactions,
                                                               seed=seed))
    seconds = time.perf_counter() - started
    fitted = result.fitted
    with torch.no_grad():
        if task == "regression":
            if learn:
                mean, var = fitted.predict(Xte)
            else:
                mean = fitted.model(Xte)
                var = torch.full_like(mean, float((fitted.model(Xtr) - ytr).pow(2).mean()))
            return _reg_metrics(mean, var, yte), result, seconds
        p = fitted.predict(Xte)[0] if learn else torch.sigmoid(fitted.model(Xte))
        return _clf_metrics(p, yte), result, seconds


def run_linear(Xtr, Xte, ytr, yte, task, seed):
    """Ridge / logistic regression with CV-chosen L2 penalty; returns (metrics, seconds)."""
    from sklearn.linear_model import LogisticRegressionCV, RidgeCV

    started = time.perf_counter()
    if task == "regression":
        model = RidgeCV(alphas=np.logspace(-3, 3, 13)).fit(Xtr.numpy(), ytr.numpy())
        var = float(np.mean((model.predict(Xtr.numpy()) - ytr.numpy()) ** 2))
        mean = torch.as_tensor(model.predict(Xte.numpy()), dtype=torch.float32)
        return _reg_metrics(mean, torch.full_like(mean, var), yte), time.perf_counter() - started
    with warnings.catch_warnings():  # scikit-learn's deprecation notices about future defaults
        warnings.simplefilter("ignore", FutureWarning)
        model = LogisticRegressionCV(Cs=13, cv=5, max_iter=5000, random_state=seed).fit(Xtr.numpy(), ytr.numpy())
    p = torch.as_tensor(model.predict_proba(Xte.numpy())[:, 1], dtype=torch.float32)
    return _clf_metrics(p, yte), time.perf_counter() - started


def _summary(values: list[float]) -> str:
    if len(values) == 1:
        return f"{values[0]:.4f}"
    return f"{np.mean(values):.4f} ± {np.std(values):.4f}"


def real_data(name: str, seeds: list[int], epochs: int, plot: str | None) -> None:
    import sklearn.datasets

    task = "regression" if name == "diabetes" else "classification"
    bunch = getattr(sklearn.datasets, f"load_{name}")()
    X, y = np.asarray(bunch.data, dtype=np.float64), np.asarray(bunch.target, dtype=np.float64)
    features = [Feature(str(n)) for n in bunch.feature_names]
    rows: dict[str, dict[str, list[float]]] = {"LA-NAM": {}, "MAP NAM": {}, "linear": {}}
    top: list[str] = []
    for seed in seeds:
        Xtr, Xte, ytr, yte = _split(X, y, seed, task == "classification")
        for label, learn in (("LA-NAM", True), ("MAP NAM", False)):
            metrics, result, seconds = run_lanam(Xtr, Xte, ytr, yte, features, task, epochs, seed, learn=learn)
            for key, value in {**metrics, "seconds": seconds}.items():
                rows[label].setdefault(key, []).append(value)
            if learn and seed == seeds[0]:
                imps = sorted(term_importances(result.fitted, Xtr), key=lambda i: -i.share)
                top = [f"{i.label} ({i.share:.2f}, δ={i.prior_precision:.2g})" for i in imps[:5]]
                if plot and name == "diabetes":
                    _plot_bmi(result.fitted, Xtr, X, features, plot)
        metrics, seconds = run_linear(Xtr, Xte, ytr, yte, task, seed)
        for key, value in {**metrics, "seconds": seconds}.items():
            rows["linear"].setdefault(key, []).append(value)
    keys = ["rmse", "nll"] if task == "regression" else ["auroc", "nll", "accuracy"]
    print(f"\n### {name} ({task}, {len(y)} rows, {X.shape[1]} features; {len(seeds)} split(s), mean ± sd)\n")
    print("| model | " + " | ".join(keys) + " | fit seconds |")
    print("|---|" + "---|" * (len(keys) + 1))
    for label, values in rows.items():
        print(f"| {label} | " + " | ".join(_summary(values[k]) for k in keys) + f" | {np.mean(values['seconds']):.1f} |")
    units = " (RMSE/NLL on the standardised target)" if task == "regression" else ""
    print(f"\nLA-NAM top terms (share of fitted variance, learned precision), seed {seeds[0]}: "
          + "; ".join(top) + units)


def _plot_bmi(fitted, Xtr, X_raw, features, path: str) -> None:
    from bdl_core.nam.plots import plot_shape

    d = [f.name for f in features].index("bmi")
    shape = shape_functions(fitted, Xtr)[d]
    mu, sd = X_raw[:, d].mean(), X_raw[:, d].std()  # sklearn's diabetes features are pre-scaled
    grid = (shape.grids[0].numpy() * sd + mu).tolist()
    mean, std = shape.mean.numpy(), shape.std.numpy()
    data = (Xtr[:, d].numpy() * sd + mu).tolist()
    precision = term_importances(fitted, Xtr)[d].prior_precision
    png = plot_shape("bmi", grid, mean.tolist(), (mean - 1.96 * std).tolist(), (mean + 1.96 * std).tolist(),
                     data=data, ylabel="contribution (standardised target)", note=f"prior precision {precision:.3g}")
    with open(path, "wb") as handle:
        handle.write(png)
    print(f"\nwrote {path}")


def synthetic(seeds: list[int], epochs: int, n: int, n_noise: int) -> None:
    rows: dict[str, dict[str, list[float]]] = {"LA-NAM": {}, "LA-NAM + 1 pair": {}, "MAP NAM": {}, "linear": {}}
    coverage: dict[str, list[float]] = {}
    checks: dict[str, list[float]] = {"min noise-feature precision / max true-feature precision": [],
                                      "max abs shape of a noise feature (signal range about 2)": [],
                                      "true pair rank (marglik)": [], "true pair rank (mutinf)": [],
                                      "learned noise std, first stage (truth 0.3, x2 x3 unmodelled)": [],
                                      "second stage added the true pair": [],
                                      "learned noise std, second stage (truth 0.3)": []}
    for seed in seeds:
        data = make_additive_data(n=n, n_noise=n_noise, interaction=1.5, categorical=True, seed=100 + seed)
        g = torch.Generator().manual_seed(seed)
        order = torch.randperm(n, generator=g)
        test, train = order[: n // 5], order[n // 5:]
        Xtr, Xte, ytr, yte = data.X[train], data.X[test], data.y[train], data.y[test]
        for label, learn, k in (("LA-NAM", True, 0), ("LA-NAM + 1 pair", True, 1), ("MAP NAM", False, 0)):
            metrics, result, seconds = run_lanam(Xtr, Xte, ytr, yte, data.features, "regression", epochs, seed,
                                                 learn=learn, interactions=k)
            for key, value in {**metrics, "seconds": seconds}.items():
                rows[label].setdefault(key, []).append(value)
            if label == "LA-NAM + 1 pair":
                checks["second stage added the true pair"].append(float(result.added_pairs == [data.interaction]))
                checks["learned noise std, second stage (truth 0.3)"].append(result.fitted.sigma)
            if label != "LA-NAM":
                continue
            fitted = result.fitted
            shapes = shape_functions(fitted, Xtr)
            for d in data.informative:
                shape = shapes[d]
                truth = data.true_shape(d, shape.grids[0]) - data.true_shape(d, Xtr[:, d]).mean()
                inside = ((truth - shape.mean).abs() <= 1.96 * shape.std).float().mean()
                coverage.setdefault(shape.label, []).append(float(inside))
            imps = term_importances(fitted, Xtr)
            true_max = max(imps[d].prior_precision for d in data.informative)
            checks["min noise-feature precision / max true-feature precision"].append(
                min(imps[d].prior_precision for d in data.noise_features) / true_max)
            checks["max abs shape of a noise feature (signal range about 2)"].append(
                max(float(shapes[d].mean.abs().max()) for d in data.noise_features))
            checks["learned noise std, first stage (truth 0.3, x2 x3 unmodelled)"].append(fitted.sigma)
            for method in ("marglik", "mutinf"):
                ranking, _ = rank_interactions(fitted, Xtr, ytr, method=method)
                rank = [(p.i, p.j) for p in ranking].index(data.interaction) + 1
                checks[f"true pair rank ({method})"].append(rank)
        metrics, seconds = run_linear(Xtr, Xte, ytr, yte, "regression", seed)
        for key, value in {**metrics, "seconds": seconds}.items():
            rows["linear"].setdefault(key, []).append(value)
    n_pairs = (len(data.features) * (len(data.features) - 1)) // 2
    print(f"\n### synthetic ({n} rows: 4 shapes + categorical + {n_noise} noise features + 1.5 x2 x3 + "
          f"N(0, 0.3²); {len(seeds)} draw(s))\n")
    print("| model | rmse | nll | fit seconds |\n|---|---|---|---|")
    for label, values in rows.items():
        print(f"| {label} | {_summary(values['rmse'])} | {_summary(values['nll'])} | {np.mean(values['seconds']):.1f} |")
    print("\n| true shape (first stage) | grid share inside the 95% band |\n|---|---|")
    for label, values in coverage.items():
        print(f"| {label} | {_summary(values)} |")
    print("\n| check | value |\n|---|---|")
    for label, values in checks.items():
        suffix = f" of {n_pairs}" if "rank" in label else ""
        print(f"| {label} | {_summary(values)}{suffix} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--synthetic-n", type=int, default=1000)
    parser.add_argument("--noise-features", type=int, default=4)
    parser.add_argument("--datasets", default="diabetes,breast_cancer,synthetic")
    parser.add_argument("--plot", default=None, help="write the LA-NAM bmi shape of diabetes (seed 0) here")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    seeds = list(range(args.seeds))
    started = time.perf_counter()
    print(f"LA-NAM benchmark: {args.seeds} seed(s), {args.epochs} epochs, torch threads {args.threads}")
    for name in args.datasets.split(","):
        if name == "synthetic":
            synthetic(seeds, args.epochs, args.synthetic_n, args.noise_features)
        else:
            real_data(name, seeds, args.epochs, args.plot)
    print(f"\ntotal {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
