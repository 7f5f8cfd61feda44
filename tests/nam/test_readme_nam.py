"""The README's LA-NAM section: its example is valid Python calling methods that exist, its figure exists."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from service.jobs.kinds.nam import NamJobConfig
from service.sdk import Client
from service.sdk.nam import NamFit

ROOT = Path(__file__).resolve().parents[2]
SECTION = re.search(r"^## Interpretable additive models \(LA-NAM\)\n(.*?)(?=^## |\Z)",
                    (ROOT / "README.md").read_text(), flags=re.S | re.M).group(1)


def test_example_calls_existing_sdk_methods_with_existing_config_fields() -> None:
    (code,) = re.findall(r"```python\n(.*?)```", SECTION, flags=re.S)
    tree = ast.parse(code)
    calls = {node.func.attr for node in ast.walk(tree) if isinstance(node, ast.Call)
             and isinstance(node.func, ast.Attribute)}
    assert {"fit_nam", "to_markdown", "shape", "download_plots"} <= calls
    assert all(hasattr(Client, name) or hasattr(NamFit, name) for name in calls if name != "print")
    fit_call = next(node for node in ast.walk(tree) if isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Attribute) and node.func.attr == "fit_nam")
    assert {kw.arg for kw in fit_call.keywords} <= set(Client.fit_nam.__code__.co_varnames)


def test_documented_config_fields_and_figure_exist() -> None:
    config = SECTION[SECTION.index("Config fields"): SECTION.index("The result holds")]
    fields = re.findall(r"`([a-z_]+)`", config)
    assert len(fields) >= 14 and set(fields) <= set(NamJobConfig.model_fields)
    for name, info in NamJobConfig.model_fields.items():
        match = re.search(rf"`{name}` \(([^)]+)\)", config)
        if match and info.default is not None and not isinstance(info.default, bool):
            assert match.group(1) == str(info.default), name
    (image,) = re.findall(r"\]\((docs/images/[^)]+\.png)\)", SECTION)
    assert (ROOT / image).read_bytes()[:4] == b"\x89PNG"
