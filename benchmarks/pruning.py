"""SpaM pruning benchmark on scikit-learn's digits: accuracy versus sparsity per training and criterion.

For a 64-256-256-10 MLP and the job's small CNN (conv 16-32, hidden 64) and every seed:

* MAP training (Adam, weight decay) then a post-hoc K-FAC Laplace (scalar prior tuned by the
  evidence) for OPD and the model's log marginal likelihood;
* online marginal-likelihood training (``bdl_core.marglik.train``) with each prior in
  ``--priors`` (unit-wise is SpaM's sparsity-inducing prior);

then unstructured and/or structured (``--modes``) pruning by magnitude, OPD and SNIP (``--criteria``) at
every sparsity, optionally fine-tuned, evaluated on a held-out 20 % split. Prints markdown
tables (accuracy mean +- std over seeds, evidence, parameter and FLOP counts) and checks the
paper's claims (see :mod:`benchmarks.pruning_report`); writes the curves to
``docs/images/pruning_curves.png``.

    python -m benchmarks.pruning [--seeds 2] [--first-seed 0] [--epochs 60] [--models mlp,cnn]
        [--priors unitwise,layerwise,scalar] [--criteria magnitude,opd,snip] [--modes unstructured,structured]
        [--finetune-epochs 0] [--device cpu|cuda] [--plot docs/images/pruning_curves.png]
        [--json run.json] [--digits digits.npz]
    python -m benchmarks.pruning --from-json run-a.json run-b.json   # merge runs (e.g. parallel seeds)
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from bdl_core.calibration import accuracy
from bdl_core.laplace import Laplace
from bdl_core.pruning import compute_scores, finetune_masked, pruning_curve
from benchmarks.pruning_report import print_report, write_plot

SPARSITIES = [0.2, 0.4, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 0.99]
REPORT_FIELDS = ("criteria", "sparsities", "modes", "structure", "epochs", "finetune_epochs")


def build_model(name: str, seed: int, dtype: torch.dtype, device: torch.device) -> nn.Sequential:
    """The job networks ``{"kind": "mlp", "hidden": [256, 256]}`` and the default ``{"kind": "cnn"}``.

    Written out (same layers, names and default initialisation as ``service.jobs.networks``) so
    the benchmark also runs where the service's dependencies are not installed (a GPU host).
    """
    torch.manual_seed(seed)
    if name == "mlp":
        net = nn.Sequential(nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 10))
    else:
        net = nn.Sequential(nn.Unflatten(1, (1, 8, 8)), nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                            nn.Linear(32 * 2 * 2, 64), nn.ReLU(), nn.Linear(64, 10))
    return net.to(dtype=dtype, device=device)


def load_digits_arrays(path: Path | None) -> tuple[np.ndarray, np.ndarray]:
    """Digits (1797, 64) and labels, from scikit-learn or from an ``.npz`` with arrays X, y."""
    if path is not None:
        with np.load(path) as arrays:
            return arrays["X"], arrays["y"]
    from sklearn.datasets import load_digits

    return load_digits(return_X_y=True)


def digits_split(seed: int, device: torch.device, dtype: torch.dtype,
                 path: Path | None = None) -> tuple[torch.Tensor, ...]:
    """Digits standardised with training statistics; 80 / 20 split by ``seed``: Xtr, ytr, Xte, yte."""
    X, y = load_digits_arrays(path)
    order = np.random.default_rng(seed).permutation(len(y))
    n_test = round(0.2 * len(y))
    test, train = order[:n_test], order[n_test:]
    mean, std = X[train].mean(0), X[train].std(0)
    std[std == 0] = 1.0
    X = (X - mean) / std
    as_x = lambda rows: torch.as_tensor(X[rows], dtype=dtype, device=device)  # noqa: E731
    as_y = lambda rows: torch.as_tensor(y[rows], dtype=torch.long, device=device)  # noqa: E731
    return as_x(train), as_y(train), as_x(test), as_y(test)


def train_map(net: nn.Module, X: torch.Tensor, y: torch.Tensor, args: argparse.Namespace, seed: int) -> None:
    """Adam on mean cross-entropy + weight_decay / (2N) |theta|^2 (the job's MAP objective)."""
    optimizer = torch.optim.Adam(net.parameters(), lr=args.lr)
    generator = torch.Generator().manual_seed(seed)
    n = X.shape[0]
    net.train()
    for _ in range(args.epochs):
        order = torch.randperm(n, generator=generator).to(X.device)
        for start in range(0, n, args.batch_size):
            rows = order[start : start + args.batch_size]
            optimizer.zero_grad()
            penalty = sum(p.pow(2).sum() for p in net.parameters()) * (0.5 * args.weight_decay / n)
            (nn.functional.cross_entropy(net(X[rows]), y[rows]) + penalty).backward()
            optimizer.step()
    net.eval()


def fit_map_laplace(net: nn.Module, X: torch.Tensor, y: torch.Tensor, args: argparse.Namespace) -> Laplace:
    """K-FAC Laplace at the MAP with the weight decay's scalar prior, tuned post hoc by the evidence."""
    la = Laplace(net, "classification", args.structure, prior="scalar", prior_precision=args.weight_decay)
    la.fit(X, y)
    la.optimize_hyperparameters(n_steps=args.tune_steps, lr=0.1)
    return la


def train_marglik(net: nn.Module, X: torch.Tensor, y: torch.Tensor, prior: str, args: argparse.Namespace,
                  seed: int) -> Laplace:
    """Online marginal-likelihood training (Immer et al. 2021) with ``prior``."""
    from bdl_core.marglik import train

    generator = torch.Generator().manual_seed(seed)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X, y), batch_size=args.batch_size,
                                         shuffle=True, generator=generator)
    la, _ = train(net, loader, likelihood="classification", structure=args.structure, prior=prior,
                  epochs=args.epochs, lr=args.lr, lr_hyp=0.1, n_hypersteps=args.hyper_steps,
                  marglik_frequency=args.marglik_frequency, n_epochs_burnin=args.burnin_epochs,
                  prior_prec_init=args.weight_decay)
    net.eval()
    return la


def prune_trained(net: nn.Module, la: Laplace, data: tuple[torch.Tensor, ...], args: argparse.Namespace,
                  seed: int) -> list[dict]:
    """Curve rows of one trained network for every criterion and pruning mode (``mode`` key)."""
    Xtr, ytr, Xte, yte = data
    with torch.no_grad():
        precision = la.posterior_precision.diagonal()
    generator = torch.Generator().manual_seed(seed)
    scores = {c: compute_scores(c, net, la.layout, posterior_precision=precision, X=Xtr, y=ytr,
                                likelihood="classification", generator=generator) for c in args.criteria}
    prior = la.prior_diagonal().detach()
    finetune = None
    if args.finetune_epochs:
        def finetune(model: nn.Module, mask) -> None:
            finetune_masked(model, mask, Xtr, ytr, "classification", args.finetune_epochs, prior_diagonal=prior,
                            lr=args.lr, batch_size=args.batch_size, generator=torch.Generator().manual_seed(seed))

    @torch.no_grad()
    def evaluate(model: nn.Module) -> dict[str, float]:
        return {"accuracy": accuracy(model(Xte), yte)}

    rows = []
    for mode in args.modes:
        curve = pruning_curve(net, scores, args.sparsities, evaluate, Xtr[:1], structured=mode == "structured",
                              finetune=finetune)
        rows += [{"mode": mode, **row} for row in curve]
    return rows


def run_one(model_name: str, training: str, seed: int, args: argparse.Namespace) -> tuple[dict, list[dict]]:
    """Train one network, prune it at every sparsity; returns (trained-model facts, curve rows)."""
    dtype = torch.float64 if args.float64 else torch.float32
    data = digits_split(seed, args.device, dtype, args.digits)
    net = build_model(model_name, seed, dtype, args.device)
    started = time.perf_counter()
    if training == "map":
        train_map(net, data[0], data[1], args, seed)
        la = fit_map_laplace(net, data[0], data[1], args)
    else:
        la = train_marglik(net, data[0], data[1], training.split(":")[1], args, seed)
    train_seconds = time.perf_counter() - started
    with torch.no_grad():
        lml = float(la.log_marginal_likelihood())
        map_accuracy = accuracy(net(data[2]), data[3])
    rows = prune_trained(net, la, data, args, seed)
    tag = {"model": model_name, "training": training, "seed": seed}
    facts = {**tag, "log_marglik": lml, "accuracy": map_accuracy, "train_s": train_seconds,
             "prune_s": time.perf_counter() - started - train_seconds,
             "n_params": sum(p.numel() for p in net.parameters())}
    return facts, [{**tag, **row} for row in rows]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options (defaults keep the run under ~10 minutes on 2 CPU cores)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    split = lambda text: [t for t in text.split(",") if t]  # noqa: E731
    parser.add_argument("--models", type=split, default=["mlp", "cnn"])
    parser.add_argument("--priors", type=split, default=["unitwise", "layerwise", "scalar"],
                        help="priors of marginal-likelihood training (claim (c) compares them)")
    parser.add_argument("--criteria", type=split, default=["magnitude", "opd", "snip"])
    parser.add_argument("--sparsities", type=lambda t: [float(s) for s in split(t)], default=SPARSITIES)
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--weight-decay", type=float, default=1.0, help="MAP prior precision")
    parser.add_argument("--structure", choices=["kron", "diag"], default="kron")
    parser.add_argument("--tune-steps", type=int, default=100)
    parser.add_argument("--hyper-steps", type=int, default=10)
    parser.add_argument("--marglik-frequency", type=int, default=10)
    parser.add_argument("--burnin-epochs", type=int, default=10)
    parser.add_argument("--modes", type=split, default=["unstructured"],
                        help="unstructured (global threshold) and/or structured (units per layer)")
    parser.add_argument("--finetune-epochs", type=int, default=0)
    parser.add_argument("--float64", action="store_true")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads (1 is fastest on a busy shared machine)")
    parser.add_argument("--plot", type=lambda t: Path(t) if t else None, default=Path("docs/images/pruning_curves.png"),
                        help="PNG path (empty: no plot)")
    parser.add_argument("--json", type=Path, default=None, help="also dump all rows as JSON here")
    parser.add_argument("--digits", type=Path, default=None, help=".npz with X, y instead of scikit-learn's copy")
    parser.add_argument("--from-json", type=Path, nargs="+", default=None,
                        help="only report (and plot) the merged dumps of earlier runs")
    args = parser.parse_args(argv)
    args.device = torch.device(args.device)
    return args


def main(argv: list[str] | None = None) -> None:
    """Run every model x seed x training (or merge ``--from-json`` dumps), print the report, plot."""
    args = parse_args(argv)
    if args.from_json:
        facts, rows = [], []
        for path in args.from_json:
            dump = json.loads(path.read_text())
            facts += dump["facts"]
            rows += dump["rows"]
            vars(args).update(dump["args"])
    else:
        facts, rows = run_all(args)
    for mode in args.modes:
        mode_rows = [r for r in rows if r["mode"] == mode]
        print_report(facts, mode_rows, args, structured=mode == "structured")
        if args.plot:
            path = args.plot if mode == "unstructured" else args.plot.with_stem(args.plot.stem + "_" + mode)
            write_plot(mode_rows, path, structured=mode == "structured")
            print(f"\nplot: {path}")


def run_all(args: argparse.Namespace) -> tuple[list[dict], list[dict]]:
    """Train and prune every model x seed x training; dumps JSON when ``--json`` is given."""
    torch.set_num_threads(args.threads)
    trainings = ["map"] + [f"marglik:{prior}" for prior in args.priors]
    facts, rows = [], []
    started = time.perf_counter()
    for model_name in args.models:
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            for training in trainings:
                try:
                    fact, curve = run_one(model_name, training, seed, args)
                except (ValueError, RuntimeError) as error:  # report a failed training, keep going
                    print(f"{model_name} {training} seed {seed} FAILED: {type(error).__name__}: {error}", flush=True)
                    facts.append({"model": model_name, "training": training, "seed": seed, "failed": str(error)})
                    continue
                facts.append(fact)
                rows += curve
                print(f"[{time.perf_counter() - started:6.0f}s] {model_name} {training} seed {seed}: "
                      f"acc {fact['accuracy']:.3f}, log marglik {fact['log_marglik']:.1f}, "
                      f"train {fact['train_s']:.0f}s, prune {fact['prune_s']:.0f}s", flush=True)
                if args.json:
                    report_args = {key: getattr(args, key) for key in REPORT_FIELDS}
                    args.json.write_text(json.dumps({"facts": facts, "rows": rows, "args": report_args}))
    print(f"total {time.perf_counter() - started:.0f}s ({args.device}, {torch.get_num_threads()} threads)")
    return facts, rows


if __name__ == "__main__":
    main()
