"""First-layer gradient norms of batch-normalised MLPs at depth (Meterez et al., ICLR 2024).

For depths 10, 50, 100, 200 (``--depths``) and several seeds, a batch of n linearly independent
Gaussian inputs (n <= width) goes through

* ``paper-linear``: the paper's network, hidden layers BN(W_l h), W_l orthogonal, no activation;
* ``paper-tanh``: the same with tanh shaped towards the identity with depth (gain 1/l in layer l);
* ``standard``: the standard BN-ReLU MLP, ReLU(BN(W_l h + b_l)) with PyTorch's default init,

and the norm of d<G, H>/dW_1 is measured (H: last hidden representation, G: a random unit-norm
direction; :func:`bdl_core.networks.first_layer_gradient_norm`), in float64. The batch size is
given relative to the width (``--batches``, default n = width and n = width / 4), because the
measurements depend on it. Prints the median and the min-max range over seeds; writes a PNG.

    python -m benchmarks.bn_gradients [--width 32] [--seeds 5] [--depths 10,50,100,200]
        [--batches 1,0.25] [--plot docs/images/bn_gradients.png]
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
import torch

from bdl_core.networks import bn_mlp, first_layer_gradient_norm, independent_inputs, standard_bn_mlp

NETWORKS = {
    "paper-linear": lambda width, depth: bn_mlp(width, 1, width, depth, "linear", dtype=torch.float64),
    "paper-tanh": lambda width, depth: bn_mlp(width, 1, width, depth, "tanh", dtype=torch.float64),
    "standard": lambda width, depth: standard_bn_mlp(width, 1, width, depth).double(),
}


def measure(name: str, width: int, n: int, depth: int, seed: int) -> float:
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    network = NETWORKS[name](width, depth)
    x = independent_inputs(n, width, generator)
    direction = torch.randn(n, width, generator=generator, dtype=torch.float64)
    return first_layer_gradient_norm(network, x, direction / direction.norm())


def _plot(table: dict, depths: list[int], batches: list[int], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(batches), figsize=(4.2 * len(batches), 3.4), squeeze=False)
    for ax, n in zip(axes[0], batches):
        for name in NETWORKS:
            values = np.array([table[(name, n, d)] for d in depths])  # (depths, seeds)
            ax.plot(depths, np.median(values, 1), marker="o", label=name)
            ax.fill_between(depths, values.min(1), values.max(1), alpha=0.2)
        ax.set_yscale("log")
        ax.set_xlabel("depth (hidden layers)")
        ax.set_title(f"batch n = {n}", fontsize=10)
    axes[0][0].set_ylabel("first-layer gradient norm")
    axes[0][0].legend(frameon=False, fontsize=8)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--width", type=int, default=32)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--depths", type=lambda t: [int(v) for v in t.split(",")], default=[10, 50, 100, 200])
    parser.add_argument("--batches", type=lambda t: [float(v) for v in t.split(",")], default=[1.0, 0.25],
                        help="batch sizes as fractions of the width")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--plot", default="docs/images/bn_gradients.png")
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    batches = [max(2, min(args.width, round(f * args.width))) for f in args.batches]
    started = time.perf_counter()
    table = {(name, n, depth): [measure(name, args.width, n, depth, seed) for seed in range(args.seeds)]
             for n in batches for name in NETWORKS for depth in args.depths}
    print(f"Width {args.width}, seeds 0-{args.seeds - 1}, float64; median [min, max] of ||dL/dW_1|| over seeds; "
          f"{time.perf_counter() - started:.0f} s.\n")
    print("| batch n | network | " + " | ".join(f"depth {d}" for d in args.depths) + " | growth 10->200 |")
    print("|---|---|" + "---|" * (len(args.depths) + 1))
    for n in batches:
        for name in NETWORKS:
            cells = []
            for depth in args.depths:
                values = table[(name, n, depth)]
                cells.append(f"{np.median(values):.3g} [{min(values):.3g}, {max(values):.3g}]")
            medians = [np.median(table[(name, n, d)]) for d in args.depths]
            growth = medians[-1] / medians[0]
            print(f"| {n} | {name} | " + " | ".join(cells) + f" | {growth:.3g}x |")
    if args.plot:
        _plot(table, args.depths, batches, args.plot)
        print(f"\nwrote {args.plot}")
    assert all(math.isfinite(v) for values in table.values() for v in values)


if __name__ == "__main__":
    main()
