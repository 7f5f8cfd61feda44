"""Every public class, function and method of ``bdl_core`` has a docstring, and the ones
that take or return tensors name a tensor shape in it (e.g. ``(N, C)``, ``(P,)``, ``()``).

The shape check is a pattern match, not a proof: it catches a docstring that forgot
shapes altogether, which is the usual failure.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re

import bdl_core

SHAPE = re.compile(r"\((\.\.\.,\s*|\*?\w[\w'*+ -]*,\s*)*(\*?\w[\w'*+ -]*)?,?\)|0-dim")


def _public_callables():
    for info in pkgutil.walk_packages(bdl_core.__path__, "bdl_core."):
        module = importlib.import_module(info.name)
        for name, obj in vars(module).items():
            if name.startswith("_") or getattr(obj, "__module__", None) != module.__name__:
                continue
            if inspect.isfunction(obj):
                yield f"{module.__name__}.{name}", obj, obj
            elif inspect.isclass(obj):
                yield f"{module.__name__}.{name}", obj, obj
                for attr, member in vars(obj).items():
                    if attr.startswith("_") and attr != "__init__":
                        continue
                    fn = member.fget if isinstance(member, property) else member
                    if inspect.isfunction(fn):
                        documented = obj if attr == "__init__" else getattr(obj, attr)
                        yield f"{module.__name__}.{name}.{attr}", fn, documented


def _mentions_tensors(fn) -> bool:
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):
        return False
    annotations = [str(p.annotation) for p in signature.parameters.values()] + [str(signature.return_annotation)]
    return any("Tensor" in a for a in annotations)


def test_public_api_is_documented_with_shapes():
    items = list(_public_callables())
    assert len(items) > 100  # the walk found the package
    undocumented = [name for name, _, documented in items if not inspect.getdoc(documented)]
    assert not undocumented, undocumented
    shapeless = [name for name, fn, documented in items
                 if inspect.isfunction(fn) and _mentions_tensors(fn) and not SHAPE.search(inspect.getdoc(documented) or "")]
    assert not shapeless, shapeless


def test_the_shape_pattern_accepts_shapes_and_rejects_prose():
    for text in ("(N, C)", "(P,)", "()", "(*batch, q, d)", "(..., d_out, d_in')", "a 0-dim tensor"):
        assert SHAPE.search(text), text
    assert not SHAPE.search("Returns the fitted model.")
