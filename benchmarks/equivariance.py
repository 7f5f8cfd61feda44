"""Learned layer-wise equivariance (van der Ouderaa et al. 2023) at CPU scale: does the Laplace
marginal likelihood keep the convolutional paths where the data has translation symmetry, and drop
them where it has none? Prints markdown tables over seeds and writes a PNG of the shares.

Data: scikit-learn's bundled 8x8 digits, pixels scaled to [0, 1], an 80/20 split per seed; and the
same digits with one fixed random permutation of the 64 pixels (the same permutation for every
image and seed), which destroys translation symmetry while keeping every pixel's information.

Networks (``bdl_core.equivariance.TwoPathNetwork``, ``--channels`` per layer, 3x3 kernels, ReLU):
the learned network (each layer = convolution + dense map of the flattened image) and the conv-only
and dense-only networks, all trained the same way by online marginal likelihood (layerwise prior
precisions, K-FAC ``--kfac``). ``--readouts`` selects the read-out(s): ``pool`` (global average,
translation-invariant) and/or ``flatten`` (a dense map of all C*H*W values). The defaults are small
(two layers of 8 channels, 20 epochs, the pool read-out) so that the run takes minutes on a shared
CPU; each finished run is also printed to stderr.

Reported per data set and read-out (mean ± sd over seeds): each layer's equivariant share (the conv
path's share of the prior function variance under the learned precisions), the final log marginal
likelihood and held-out accuracy / NLL / ECE of the MAP network for learned, conv-only, dense-only.

    python -m benchmarks.equivariance [--seeds 3] [--epochs 20] [--channels 8,8] [--readouts pool]
        [--kfac reduce] [--plot docs/images/equivariance_shares.png]
    python -m benchmarks.equivariance --kfac-check   # K-FAC expand vs reduce against the full GGN

``--kfac-check`` instead compares the two K-FAC flavours on a network small enough for the full GGN
(6x6 centre crops of 400 digits, two layers of 2 channels, MAP-trained in float64): the evidence of
each at prior precision 1, and the full-GGN evidence at the precisions each K-FAC evidence optimises.
"""

from __future__ import annotations

import argparse
import math
import sys
import time

import numpy as np
import torch

from bdl_core.calibration import accuracy, expected_calibration_error, negative_log_likelihood
from bdl_core.equivariance import EvidenceTraining, TwoPathNetwork, learned_shares, train_by_evidence
from bdl_core.equivariance.plots import plot_shares

NETWORKS = {"learned": ("conv", "dense"), "conv-only": ("conv",), "dense-only": ("dense",)}
PERMUTATION_SEED = 1234


def digits(permuted: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """(1797, 64) pixels in [0, 1] and labels; optionally with the fixed pixel permutation."""
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    X = torch.tensor(X / 16.0, dtype=torch.float32)
    if permuted:
        X = X[:, torch.randperm(64, generator=torch.Generator().manual_seed(PERMUTATION_SEED))]
    return X, torch.tensor(y)


def run_one(X, y, seed: int, paths, readout: str, args) -> dict:
    order = torch.randperm(len(y), generator=torch.Generator().manual_seed(seed))
    n_test = round(0.2 * len(y))
    test, train = order[:n_test], order[n_test:]
    torch.manual_seed(seed)
    network = TwoPathNetwork((1, 8, 8), 10, args.channels, 3, paths, "relu", readout)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X[train], y[train]), batch_size=128,
                                         shuffle=True, generator=torch.Generator().manual_seed(seed))
    settings = EvidenceTraining(epochs=args.epochs, lr=3e-3, burnin_epochs=5, marglik_frequency=5,
                                hyper_steps=50, kfac=args.kfac)
    started = time.perf_counter()
    la, history = train_by_evidence(network, loader, settings)
    with torch.no_grad():
        probs = torch.softmax(network(X[test]), dim=-1)
        lml = float(la.log_marginal_likelihood())
    return {"lml": lml, "accuracy": accuracy(probs, y[test]),
            "nll": negative_log_likelihood(probs, y[test]), "ece": expected_calibration_error(probs, y[test]),
            "shares": [s.equivariant_share for s in learned_shares(la, X[train])] if len(paths) == 2 else None,
            "seconds": time.perf_counter() - started}


def kfac_check(args) -> None:
    """Print K-FAC expand / reduce evidences against the full GGN (see the module docstring)."""
    from bdl_core.laplace import Laplace

    X, y = digits(False)
    X = X.double().view(-1, 8, 8)[:400, 1:7, 1:7].reshape(-1, 36)
    y = y[:400]
    print("| read-out | seed | full GGN at prior 1 | K-FAC at prior 1 (expand / reduce) | "
          "full GGN at the K-FAC optimum (expand / reduce) |")
    print("|---|---|---|---|---|")
    for readout in ("pool", "flatten"):
        for seed in range(2):
            torch.manual_seed(seed)
            network = TwoPathNetwork((1, 6, 6), 10, (2, 2), readout=readout).double()
            optimizer = torch.optim.Adam(network.parameters(), lr=3e-3)
            for _ in range(300):
                optimizer.zero_grad()
                loss = torch.nn.functional.cross_entropy(network(X), y)
                (loss + 1e-3 * sum(p.pow(2).sum() for p in network.parameters())).backward()
                optimizer.step()
            full = Laplace(network, "classification", structure="full", prior="layerwise").fit(X, y)
            at_one, at_optimum = [], []
            for kfac in ("expand", "reduce"):
                la = Laplace(network, "classification", structure="kron", kfac=kfac, prior="layerwise").fit(X, y)
                with torch.no_grad():
                    at_one.append(float(la.log_marginal_likelihood()))
                la.optimize_hyperparameters(n_steps=100, lr=0.1)
                with torch.no_grad():
                    at_optimum.append(float(full.log_marginal_likelihood(la.prior_precision)))
            with torch.no_grad():
                reference = float(full.log_marginal_likelihood())
            print(f"| {readout} | {seed} | {reference:.1f} | {at_one[0]:.1f} / {at_one[1]:.1f} | "
                  f"{at_optimum[0]:.1f} / {at_optimum[1]:.1f} |")


def _ms(values) -> str:
    values = np.asarray(values, dtype=float)
    return f"{values.mean():.3f} ± {values.std():.3f}" if len(values) > 1 else f"{values.mean():.3f}"


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--channels", type=lambda t: [int(c) for c in t.split(",")], default=[8, 8])
    parser.add_argument("--readouts", type=lambda t: t.split(","), default=["pool"])
    parser.add_argument("--kfac", choices=["expand", "reduce"], default="reduce")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--plot", default="docs/images/equivariance_shares.png")
    parser.add_argument("--kfac-check", action="store_true", help="compare K-FAC flavours with the full GGN")
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.kfac_check:
        kfac_check(args)
        return
    results: dict = {}
    started = time.perf_counter()
    for data_name, permuted in (("digits", False), ("permuted digits", True)):
        X, y = digits(permuted)
        for readout in args.readouts:
            for name, paths in NETWORKS.items():
                runs = results[(data_name, readout, name)] = []
                for seed in range(args.seeds):
                    runs.append(run_one(X, y, seed, paths, readout, args))
                    print(f"{data_name} / {readout} / {name} / seed {seed}: {runs[-1]}", file=sys.stderr, flush=True)
    n_layers = len(args.channels)
    print(f"Seeds 0-{args.seeds - 1}, {args.epochs} epochs, channels {args.channels}, K-FAC {args.kfac}; "
          f"mean ± sd over seeds; {time.perf_counter() - started:.0f} s in all.\n")
    print("| data | read-out | " + " | ".join(f"share layer {k}" for k in range(n_layers))
          + " | per-seed shares |")
    print("|---|---|" + "---|" * (n_layers + 1))
    groups = {}
    for (data_name, readout, name), runs in results.items():
        if name != "learned":
            continue
        shares = [run["shares"] for run in runs]
        groups[f"{data_name}, {readout}"] = shares
        per_seed = "; ".join(", ".join(f"{v:.2f}" for v in s) for s in shares)
        print(f"| {data_name} | {readout} | " + " | ".join(_ms([s[k] for s in shares]) for k in range(n_layers))
              + f" | {per_seed} |")
    print("\n| data | read-out | network | log marglik | accuracy | NLL | ECE | s/run |")
    print("|---|---|---|---|---|---|---|---|")
    for (data_name, readout, name), runs in results.items():
        cells = [_ms([r[key] for r in runs]) for key in ("lml", "accuracy", "nll", "ece")]
        seconds = np.mean([r["seconds"] for r in runs])
        print(f"| {data_name} | {readout} | {name} | " + " | ".join(cells) + f" | {seconds:.0f} |")
    print("\nClaims per seed (learned vs the better fixed network by held-out accuracy; evidence's pick):\n")
    print("| data | read-out | learned acc >= best fixed | evidence ranks learned first |")
    print("|---|---|---|---|")
    for data_name in ("digits", "permuted digits"):
        for readout in args.readouts:
            runs = {name: results[(data_name, readout, name)] for name in NETWORKS}
            at_least = sum(runs["learned"][s]["accuracy"] >= max(runs["conv-only"][s]["accuracy"],
                                                                 runs["dense-only"][s]["accuracy"])
                           for s in range(args.seeds))
            first = sum(max(NETWORKS, key=lambda n: runs[n][s]["lml"]) == "learned" for s in range(args.seeds))
            print(f"| {data_name} | {readout} | {at_least}/{args.seeds} | {first}/{args.seeds} |")
    if args.plot:
        with open(args.plot, "wb") as handle:
            handle.write(plot_shares(groups, title=f"learned equivariant share per layer ({args.seeds} seeds)"))
        print(f"\nwrote {args.plot}")
    assert all(math.isfinite(r["lml"]) for runs in results.values() for r in runs)


if __name__ == "__main__":
    main()
