"""The named specs (``paper``, ``small``, ``torchvision``, ``bn-inception``, ``inception-v3``) that
:func:`~inception_bench.models.create_model` and the CLI accept in place of a spec file. Nothing here imports
torch."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from inception_bench.errors import SpecError
from inception_bench.spec.load import SPEC_DIR, LoadedSpec, load_spec

MODELS: dict[str, Path] = {
    "paper": SPEC_DIR / "googlenet.yaml",  # Table 1
    "small": SPEC_DIR / "googlenet-small.yaml",  # the paper's modules on 32x32 inputs
    "torchvision": SPEC_DIR / "googlenet-torchvision.yaml",  # loads torchvision's weights
    "bn-inception": SPEC_DIR / "bn-inception.yaml",  # Ioffe & Szegedy 2015, Figure 5
    "inception-v3": SPEC_DIR / "inception-v3.yaml",  # Szegedy et al. 2015, torchvision's inception_v3
}


def list_models() -> list[str]:
    """The registered model names."""
    return sorted(MODELS)


def resolve_spec(name: str | Path = "paper", overrides: dict[str, Any] | None = None) -> LoadedSpec:
    """The spec of a registered name or a spec file, with ``overrides`` (dotted keys, as ``--set``)."""
    path = MODELS.get(str(name), Path(name))
    if str(name) not in MODELS and not path.exists() and not path.suffix and len(path.parts) == 1:
        raise SpecError(f"{name}: not a model name ({', '.join(list_models())}) nor a spec file")
    return load_spec(path, overrides)
