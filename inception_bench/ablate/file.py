"""Ablation files: their schema, their variants (each spec derived in memory from the base spec) and the recipe
of each run; the shipped ones found by name. What runs an ablation has and where each stands:
:mod:`inception_bench.ablate.plan`.

An ablation file (``specs/ablations/*.yaml``)::

    name: paper
    spec: ../googlenet-small.yaml     # the base spec, relative to this file
    data: digits
    recipe: {epochs: 8, schedule: cosine}   # ibench train's settings (Recipe fields)
    seeds: [0, 1, 2]
    set: {width_mult: 0.5}            # overrides for every variant (the keys of --set)
    grid:                             # every combination of these axes ...
      module: [naive, reduced]
      aux.enabled: [true, false]
    variants:                         # ... and/or named variants, each an override of the base spec
      - {name: no-5x5, set: {layers.*.5x5: 0}}
      - {name: high-lr, recipe: {lr: 0.2}}
    baseline: module-reduced_aux.enabled-on   # compared against in reports (default: the first variant)
    tune: {lr: [0.15, 0.3, 0.6, 1.2]}  # optional: recipe values chosen per variant on the validation split

A grid variant is named ``axis-value_axis-value`` (booleans as on/off, lists joined by +). Each variant's spec is
derived in memory from the base spec, and each (variant, seed) gets a run folder in the ablation folder
(:class:`~inception_bench.store.AblationFolder`) with the request that describes it.

How ``tune:`` chooses each variant's values, and which runs that makes: :mod:`inception_bench.ablate.plan`.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from inception_bench.ablate.tuning import Halving
from inception_bench.errors import FieldError, IbenchError, SpecError
from inception_bench.run.settings import Recipe, parse
from inception_bench.spec import (
    SPEC_DIR,
    LoadedSpec,
    load_spec,
    read_yaml,
    referred_file,
    validation_message,
)

ABLATION_DIR = SPEC_DIR / "ablations"
_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.=-]*$"


class VariantSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=_NAME)
    set: dict[str, Any] = Field(default_factory=dict)
    recipe: dict[str, Any] = Field(default_factory=dict)


class AblationSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=_NAME)
    description: str = ""
    spec: str = "../googlenet-small.yaml"
    data: str = "digits"
    recipe: dict[str, Any] = Field(default_factory=dict)
    seeds: list[int] = Field(default_factory=lambda: [0], min_length=1)
    set: dict[str, Any] = Field(default_factory=dict)
    grid: dict[str, list[Any]] = Field(default_factory=dict)
    variants: list[VariantSpec] = Field(default_factory=list)
    baseline: str | None = None
    tune: dict[str, list[Any]] = Field(default_factory=dict)
    halving: Halving | None = None

    @model_validator(mode="after")
    def _check(self) -> AblationSpec:
        for key, values in self.tune.items():
            if key not in Recipe.model_fields or key in ("seed", "data"):
                raise ValueError(f"tune.{key}: not a recipe field that can be tuned (e.g. lr, weight_decay)")
            if not values or len(set(map(str, values))) != len(values):
                raise ValueError(f"tune.{key}: give a list of distinct candidate values")
        if self.halving is not None and not self.tune:
            raise ValueError("halving: halves the candidates of tune:, which this file does not have")
        if self.halving is not None and "epochs" in self.tune:
            raise ValueError("halving: its rungs are shares of the epochs, which tune: chooses; tune other fields")
        if not self.grid and not self.variants:
            raise ValueError("give a 'grid' of axes or a list of 'variants' (or both)")
        for axis, values in self.grid.items():
            if not values:
                raise ValueError(f"grid.{axis}: needs at least one value")
        if len(set(self.seeds)) != len(self.seeds):
            raise ValueError("seeds: must be distinct")
        for variant in self.variants:
            both = sorted(set(variant.recipe) & set(self.tune))
            if both:
                raise ValueError(f"variants.{variant.name}.recipe: sets {', '.join(both)}, which tune: chooses")
        return self


@dataclass
class Variant:
    """One variant of an ablation: its name, its spec (derived from the base spec), the axes it sets, and its
    recipe changes."""

    name: str
    loaded: LoadedSpec
    axes: dict[str, Any]
    recipe: dict[str, Any]


# ------------------------------------------------------------------------------------------------ loading
def is_ablation(raw: dict[str, Any]) -> bool:
    """Whether a YAML mapping is an ablation file (rather than a spec file)."""
    return bool({"grid", "variants", "seeds"} & set(raw))


def ablation_path(name: str | Path) -> Path:
    """An ablation file, or the name of a shipped one (``quick`` for ``specs/ablations/quick.yaml``, found in the
    installed package too) when no such file exists."""
    path = Path(name)
    shipped = ABLATION_DIR / f"{path}.yaml"
    if not path.exists() and not path.suffix and len(path.parts) == 1 and shipped.exists():
        return shipped
    return path


def shipped_ablations() -> list[str]:
    return sorted(p.stem for p in ABLATION_DIR.glob("*.yaml"))


def load_ablation(path: str | Path) -> AblationSpec:
    path = Path(path)
    raw = read_yaml(path, what="ablation")
    try:
        return AblationSpec.model_validate(raw)
    except ValidationError as e:
        raise IbenchError(validation_message(str(path), raw, e, "specs/ablations/paper.yaml")) from None


def _value_name(value: Any) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, list):
        return "+".join(_value_name(v) for v in value) or "none"
    return re.sub(r"[^A-Za-z0-9_.+-]", "", str(value)) or "x"


def grid_name(values: dict[str, Any]) -> str:
    """A grid variant's name: its axis values, ``module-reduced_aux.enabled-on``."""
    return "_".join(f"{k}-{_value_name(v)}" for k, v in values.items())


def expand_variants(ablation: AblationSpec, path: Path) -> list[Variant]:
    """Every variant of the file, its spec derived in memory from the base spec."""
    base = load_spec(referred_file(path, "spec", ablation.spec))
    named: list[tuple[str, dict[str, Any], dict[str, Any]]] = []
    keys = list(ablation.grid)
    combos = itertools.product(*(ablation.grid[k] for k in keys)) if keys else ()  # no grid: no grid variant
    for combo in combos:
        axes = dict(zip(keys, combo, strict=True))
        named.append((grid_name(axes), axes, {}))
    named += [(v.name, v.set, v.recipe) for v in ablation.variants]
    names = [name for name, _, _ in named]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise IbenchError(f"{path}: variant names must be unique, repeated: {', '.join(dup)}")
    variants = []
    for name, axes, recipe in named:
        try:
            loaded = base.with_overrides({**ablation.set, **axes})
        except SpecError as e:
            raise IbenchError(f"{path}: variant {name}: {e}") from None
        variants.append(Variant(name, loaded, dict(axes), recipe))
    return variants


def variant_specs(path: str | Path) -> list[tuple[str, LoadedSpec]]:
    """The ablation's variants by name, each spec derived from the base spec (what ``ibench bench`` measures)."""
    return [(v.name, v.loaded) for v in expand_variants(load_ablation(path), Path(path))]


def recipe_of(
    path: Path, ablation: AblationSpec, seed: int, variant: Variant | None = None, tuned: dict[str, Any] | None = None
) -> Recipe:
    """The recipe of the file's top level (``variant`` None) or of a variant with its own changes, with ``tuned``
    values last; errors name the place in the file (``recipe.lr``, ``variants.NAME.recipe.lr``, ``tune``)."""
    own = variant.recipe if variant is not None else ablation.recipe
    where = f"variants.{variant.name}.recipe" if variant is not None else "recipe"
    if tuned and variant is None:
        where = "tune"
    for key in ("seed", "data"):
        if key in own:
            raise IbenchError(f"{path}: {where}.{key}: set {key}s at the top level of the file, not in a recipe")
    extra = variant.recipe if variant is not None else {}
    try:
        return parse(Recipe, {"data": ablation.data, "seed": seed, **ablation.recipe, **extra, **(tuned or {})}, where)
    except FieldError as e:
        raise IbenchError(f"{path}: {e}") from None
