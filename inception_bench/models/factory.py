"""The model factory, in the style of torchvision's and timm's: a registry of named specs and one function
that builds any of them, or any spec file, with overrides.

    >>> import inception_bench as ib
    >>> model = ib.create_model("small", width_mult=0.5, overrides={"aux.enabled": False})
    >>> ib.list_models()
    ['bn-inception', 'inception-v3', 'paper', 'small', 'torchvision']

Names: ``paper`` (``specs/googlenet.yaml``, Table 1), ``torchvision`` (``specs/googlenet-torchvision.yaml``,
loads torchvision's weights), ``small`` (``specs/googlenet-small.yaml``, 32x32 inputs), ``bn-inception``
(``specs/bn-inception.yaml``) and ``inception-v3`` (``specs/inception-v3.yaml``, torchvision's ``inception_v3``).
Anything else is a path to a spec file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from inception_bench.models.googlenet import GoogLeNet, build_model
from inception_bench.spec.registry import MODELS, list_models, resolve_spec

__all__ = ["MODELS", "create_model", "list_models", "resolve_spec"]


def create_model(
    name: str | Path = "paper",
    overrides: dict[str, Any] | None = None,
    *,
    fuse_1x1: bool = False,
    s2d_stem: bool = False,
    **fields: Any,
) -> GoogLeNet:
    """A freshly initialised network: ``name`` is a registered model or a spec file; ``fields`` override
    top-level spec fields (``width_mult=0.5``, ``module="naive"``) and ``overrides`` any dotted key
    (``{"aux.enabled": False, "layers.4e.5x5": 0}``). ``fuse_1x1`` and ``s2d_stem`` are execution options (same
    weights and function; see :func:`build_model`)."""
    return build_model(resolve_spec(name, {**fields, **(overrides or {})}).spec, fuse_1x1=fuse_1x1, s2d_stem=s2d_stem)
