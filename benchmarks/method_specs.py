"""Command-line method specs shared by the benchmarks: labelled surrogates and their options.

``--methods random,gp-raw:gp`` runs the ``gp`` surrogate under the label ``gp-raw``;
``--options 'gp-raw={"output_warping": "off"}'`` gives that label its ``surrogate_options`` (an
ablation is a label with options, run beside the default in the same run).
"""

from __future__ import annotations

import json
from typing import Any


def parse_methods(spec: str) -> dict[str, str]:
    """``"random,gp-fast:gp,optuna-tpe"`` -> ``{label: surrogate or optuna method}``."""
    methods: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        label, _, surrogate = item.partition(":")
        methods[label] = surrogate or label
    return methods


def parse_options(items: list[str]) -> dict[str, dict[str, Any]]:
    """``["gp={...}", ...]`` -> ``{label: surrogate_options}``."""
    options = {}
    for item in items:
        label, sep, text = item.partition("=")
        if not sep:
            raise ValueError(f"--options expects LABEL=JSON, got {item!r}")
        options[label] = json.loads(text)
    return options
