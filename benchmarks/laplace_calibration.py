"""Calibration of the Laplace predictive against the MAP on digits (prints a markdown table).

Two training setups of an MLP on scikit-learn's digits, each over several seeds (a
seed sets the stratified split and the initialisation; training is full-batch):

* ``interpolating``: the usual deep-learning recipe, a 64-64-64-10 ReLU MLP trained
  with Adam and no weight decay until the training loss is ~1e-4, on 30 % of the data
  (80 % of it for training, 20 % held out for validation); 70 % is the test split.
  Its MAP is overconfident.
* ``weight-decay``: a 64-64-10 tanh MLP, 300 Adam steps with weight decay 1e-3, on
  50 % of the data (same 80/20 train/validation split); 50 % test. Its MAP is
  already calibrated (ECE ~0.015).

Predictives compared on the test split: the MAP's softmax; K-FAC Laplace (last layer
and all layers) and diagonal Laplace with the scalar prior precision chosen by
validation NLL (grid 1e-4 ... 1e6); and last-layer K-FAC with the prior tuned by the
marginal likelihood (100 Adam steps). All Laplace predictives are GLM + probit.
Networks are trained in float32 and evaluated in float64. ``--plot`` writes reliability
diagrams pooled over the seeds.

    python -m benchmarks.laplace_calibration
    python -m benchmarks.laplace_calibration --seeds 4 --setups interpolating --plot docs/images/laplace_calibration_digits.png
"""

from __future__ import annotations

import argparse
import statistics
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from bdl_core.calibration import accuracy, expected_calibration_error, negative_log_likelihood, reliability_curve
from bdl_core.laplace import Laplace


@dataclass(frozen=True)
class TrainingSetup:
    """How the MAP network is obtained (see the module docstring)."""

    data_fraction: float
    hidden: tuple[int, ...]
    activation: type[nn.Module]
    steps: int
    lr: float
    weight_decay: float
    validation_fraction: float = 0.2


SETUPS = {
    "interpolating": TrainingSetup(0.3, (64, 64), nn.ReLU, steps=2000, lr=1e-3, weight_decay=0.0),
    "weight-decay": TrainingSetup(0.5, (64,), nn.Tanh, steps=300, lr=1e-2, weight_decay=1e-3),
}

# name -> (structure, subset, how the prior precision is chosen)
LAPLACE_VARIANTS = {
    "kron-last-layer/validation": ("kron", "last_layer", "validation"),
    "kron-all/validation": ("kron", "all", "validation"),
    "diag-all/validation": ("diag", "all", "validation"),
    "kron-last-layer/marglik": ("kron", "last_layer", "marglik"),
}


@dataclass
class DigitsSplit:
    """Standardised float64 digits: train (N, 64) / (N,), validation and test alike."""

    X_train: Tensor
    y_train: Tensor
    X_val: Tensor
    y_val: Tensor
    X_test: Tensor
    y_test: Tensor


def split_digits(seed: int, setup: TrainingSetup) -> DigitsSplit:
    """Stratified train / validation / test split of the 1797 digits (scaled on train)."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    digits = load_digits()
    X_pool, X_test, y_pool, y_test = train_test_split(
        digits.data, digits.target, train_size=setup.data_fraction, random_state=seed, stratify=digits.target)
    X_train, X_val, y_train, y_val = train_test_split(
        X_pool, y_pool, test_size=setup.validation_fraction, random_state=seed, stratify=y_pool)
    scaler = StandardScaler().fit(X_train)

    def inputs(a):
        return torch.tensor(scaler.transform(a), dtype=torch.float64)

    return DigitsSplit(inputs(X_train), torch.tensor(y_train), inputs(X_val), torch.tensor(y_val),
                       inputs(X_test), torch.tensor(y_test))


def train_map(data: DigitsSplit, seed: int, setup: TrainingSetup) -> tuple[nn.Module, float]:
    """Full-batch Adam in float32; returns the float64 network and its final training loss."""
    torch.manual_seed(seed)
    layers: list[nn.Module] = []
    width = data.X_train.shape[1]
    for hidden in setup.hidden:
        layers += [nn.Linear(width, hidden), setup.activation()]
        width = hidden
    model = nn.Sequential(*layers, nn.Linear(width, 10))
    X, y = data.X_train.float(), data.y_train
    optimizer = torch.optim.Adam(model.parameters(), lr=setup.lr, weight_decay=setup.weight_decay)
    for _ in range(setup.steps):
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(X), y).backward()
        optimizer.step()
    model = model.double().eval()
    with torch.no_grad():
        loss = float(nn.functional.cross_entropy(model(data.X_train), data.y_train))
    return model, loss


def laplace_probabilities(model: nn.Module, data: DigitsSplit, structure: str, subset: str,
                          tuning: str) -> tuple[Tensor, float]:
    """(N_test, 10) probit predictive of a Laplace fitted on the training split, and its prior."""
    la = Laplace(model, "classification", structure=structure, subset=subset, prior="scalar")
    la.fit(data.X_train, data.y_train)
    if tuning == "validation":
        la.optimize_prior_precision_on_validation(data.X_val, data.y_val)
    else:
        la.optimize_hyperparameters(n_steps=100, lr=0.1)
    return la.predict(data.X_test), float(la.prior_precision)


def evaluate_seed(seed: int, setup: TrainingSetup, variants: list[str]) -> dict[str, dict]:
    """Scores of the MAP and the named Laplace variants on one seed's test split.

    Returns:
        name -> {"nll", "ece", "accuracy", "prior", "probs" (N_test, 10), "labels" (N_test,)},
        plus "MAP" (its "train_loss" instead of "prior").
    """
    data = split_digits(seed, setup)
    model, train_loss = train_map(data, seed, setup)
    with torch.no_grad():
        results = {"MAP": {"probs": torch.softmax(model(data.X_test), dim=-1), "train_loss": train_loss}}
    for name in variants:
        probs, prior = laplace_probabilities(model, data, *LAPLACE_VARIANTS[name])
        results[name] = {"probs": probs, "prior": prior}
    for row in results.values():
        row["labels"] = data.y_test
        row["nll"] = negative_log_likelihood(row["probs"], data.y_test)
        row["ece"] = expected_calibration_error(row["probs"], data.y_test)
        row["accuracy"] = accuracy(row["probs"], data.y_test)
    return results


def _mean_sd(values: list[float]) -> str:
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.fmean(values):.4f} ± {sd:.4f}"


def render_table(runs: list[dict[str, dict]]) -> str:
    """Markdown table: mean ± sd over seeds, and on how many seeds a predictive beats the MAP."""
    lines = ["| predictive (Laplace: structure/prior tuning) | test NLL | test ECE | accuracy | beats MAP on NLL and ECE | prior precision (median) |",
             "|---|---|---|---|---|---|"]
    for name in runs[0]:
        rows = [run[name] for run in runs]
        wins = "-" if name == "MAP" else str(sum(
            row["nll"] < run["MAP"]["nll"] and row["ece"] < run["MAP"]["ece"] for row, run in zip(rows, runs)))
        prior = "-" if name == "MAP" else f"{statistics.median(row['prior'] for row in rows):.3g}"
        lines.append(f"| {name} | {_mean_sd([r['nll'] for r in rows])} | {_mean_sd([r['ece'] for r in rows])} | "
                     f"{_mean_sd([r['accuracy'] for r in rows])} | {wins} / {len(rows)} | {prior} |")
    return "\n".join(lines)


def plot_reliability(runs_by_setup: dict[str, list[dict[str, dict]]], path: str) -> None:
    """Reliability diagrams (test predictions pooled over seeds), one panel per setup."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(runs_by_setup), figsize=(5.5 * len(runs_by_setup), 5), squeeze=False)
    for ax, (setup, runs) in zip(axes[0], runs_by_setup.items()):
        ax.plot([0, 1], [0, 1], color="grey", lw=1, ls="--")
        for name in runs[0]:
            probs = torch.cat([run[name]["probs"] for run in runs])
            labels = torch.cat([run[name]["labels"] for run in runs])
            curve = reliability_curve(probs, labels, n_bins=15)
            filled = curve.count > 0
            ax.plot(curve.confidence[filled], curve.accuracy[filled], marker="o", ms=3,
                    label=f"{name} (ECE {curve.expected_calibration_error:.3f})")
        ax.set(title=f"digits, {setup} MAP ({len(runs)} seeds pooled)", xlabel="confidence",
               ylabel="accuracy", xlim=(0, 1), ylim=(0, 1))
        ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--setups", default=",".join(SETUPS), help=f"comma-separated, of {list(SETUPS)}")
    parser.add_argument("--seeds", type=int, default=8)
    parser.add_argument("--variants", default=",".join(LAPLACE_VARIANTS), help="comma-separated Laplace variants")
    parser.add_argument("--steps", type=int, default=None, help="override the MAP training steps (smoke runs)")
    parser.add_argument("--plot", default=None, help="PNG path for the reliability diagrams")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    variants = [v for v in args.variants.split(",") if v]
    unknown = [v for v in variants if v not in LAPLACE_VARIANTS] + [
        s for s in args.setups.split(",") if s not in SETUPS]
    if unknown:
        parser.error(f"unknown setup or variant: {unknown}")
    runs_by_setup = {}
    for name in args.setups.split(","):
        setup = SETUPS[name]
        if args.steps is not None:
            setup = TrainingSetup(**{**setup.__dict__, "steps": args.steps})
        runs = [evaluate_seed(seed, setup, variants) for seed in range(args.seeds)]
        runs_by_setup[name] = runs
        losses = ", ".join(f"{run['MAP']['train_loss']:.1e}" for run in runs)
        print(f"\n### {name}: seeds 0-{args.seeds - 1}, MAP training loss per seed {losses}\n")
        print(render_table(runs), flush=True)
    if args.plot:
        plot_reliability(runs_by_setup, args.plot)
        print(f"\nreliability diagrams: {args.plot}")


if __name__ == "__main__":
    main()
