"""inception-bench: GoogLeNet's architecture table as runnable, countable, trainable PyTorch variants.

    >>> import inception_bench as ib
    >>> model = ib.create_model("paper")                  # or "small", "torchvision", a spec file; with overrides
    >>> ib.count_model(model)                             # Table 1's conventions: weights, multiply-adds, ...
    Totals(params=6990272, macs=1582671872, params_all=6998552, params_with_aux=13378280, ...)

The names below are loaded on first use, so that ``import inception_bench`` (and ``ibench --help``) does not
import torch.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "create_model": "inception_bench.models",
    "list_models": "inception_bench.models",
    "build_model": "inception_bench.models",
    "GoogLeNet": "inception_bench.models",
    "count_model": "inception_bench.count",
    "totals": "inception_bench.count",
    "Totals": "inception_bench.count",
    "load_spec": "inception_bench.spec",
    "Spec": "inception_bench.spec",
}
__all__ = [
    "GoogLeNet",
    "Spec",
    "Totals",
    "__version__",
    "build_model",
    "count_model",
    "create_model",
    "list_models",
    "load_spec",
    "totals",
]

if TYPE_CHECKING:
    from inception_bench.count import Totals, count_model, totals
    from inception_bench.models import GoogLeNet, build_model, create_model, list_models
    from inception_bench.spec import Spec, load_spec


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'inception_bench' has no attribute {name!r}")
