"""Spec files: YAML reading, ``base:`` chains, dotted-key overrides, and one-line validation errors.

- A spec file holds the table (``layers``) and the global design choices; a derived file has ``base:`` (a spec
  file, relative to it) and ``overrides:``.
- Overrides use dotted keys: a top-level field (``module``, ``width_mult``), ``aux.<field>``, or
  ``layers.<id>.<column>`` (``layers.4e.5x5``; ``layers.*.5x5`` sets the column of every inception row).
  Values are YAML scalars or lists (``true``, ``0.5``, ``[4d]``).
- A spec file that stands alone is checked against its own claims (every row's ``output``, the avg pool's
  ``patch``). A derived spec, or one with overrides, is a variant: its shapes are computed and the claims stay
  as the paper's reference column.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from inception_bench.errors import FieldError, SpecError, one_line
from inception_bench.spec.plan import check_claims, plan
from inception_bench.spec.schema import ROW_TYPES, Spec

# the shipped specs: the top-level specs/ of a checkout, inside the package of an installed wheel (pyproject.toml)
SPEC_DIR = Path(str(resources.files("inception_bench.specs"))).resolve()
DEFAULT_SPEC = SPEC_DIR / "googlenet.yaml"
REFERENCE = "specs/googlenet.yaml"  # where a reader finds every field spelled out


def display_path(path: str | Path) -> str:
    """A path as shown in outputs: relative to the project (or the working directory) when inside it."""
    p = Path(path).resolve()
    for root in (SPEC_DIR.parent, Path.cwd()):
        if p.is_relative_to(root):
            return str(p.relative_to(root))
    return str(path)


# ------------------------------------------------------------------------------------------------ overrides
def parse_overrides(items: list[str] | None, field: str = "set", example: str = "width_mult=0.5") -> dict[str, Any]:
    """``["aux.enabled=false", "layers.4e.5x5=0"]`` -> ``{"aux.enabled": False, "layers.4e.5x5": 0}``; errors
    name the list as ``field``."""
    out: dict[str, Any] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise FieldError(field, f"expected KEY=VALUE, e.g. {example}", item)
        try:
            out[key.strip()] = yaml.safe_load(value) if value.strip() else ""
        except yaml.YAMLError as e:
            raise FieldError(field, f"the value is not valid YAML ({one_line(e)})", item) from None
    return out


def apply_overrides(raw: dict[str, Any], overrides: dict[str, Any], source: str) -> dict[str, Any]:
    """Set dotted keys in a raw (unvalidated) spec dict; unknown rows are errors, unknown fields fail later."""
    raw = copy.deepcopy(raw)
    for key, value in overrides.items():
        parts = key.split(".")
        if parts[0] == "layers":
            if len(parts) != 3:
                raise SpecError(f"{source}: override {key!r}: use layers.<row id>.<column>, e.g. layers.4e.5x5")
            rows = [r for r in raw.get("layers") or [] if isinstance(r, dict)]
            if parts[1] == "*":  # every inception row: layers.*.5x5=0 removes the 5x5 branch everywhere
                match = [r for r in rows if r.get("type") == "inception"]
                if not match:
                    raise SpecError(
                        f"{source}: override {key!r}: the table has no inception rows (a module row's branches are "
                        "set one row at a time: layers.ID.branches)"
                    )
            else:
                match = [r for r in rows if str(r.get("id")) == parts[1]][:1]
            if not match:
                ids = ", ".join(str(r.get("id")) for r in rows)
                raise SpecError(f"{source}: override {key!r}: no row with id {parts[1]!r} (have {ids})")
            for r in match:
                r[parts[2]] = value
        elif parts[0] == "aux" and len(parts) == 2:
            if not isinstance(raw.get("aux"), dict):
                raw["aux"] = {}
            raw["aux"][parts[1]] = value
        elif len(parts) == 1:
            raw[parts[0]] = value
        else:
            raise SpecError(f"{source}: override {key!r}: keys are FIELD, aux.FIELD or layers.ID.COLUMN")
    return raw


def describe_overrides(overrides: dict[str, Any]) -> str:
    return " ".join(f"{k}={v}" for k, v in overrides.items())


# -------------------------------------------------------------------------------------------------- reading
class _NoDuplicateKeys(yaml.SafeLoader):
    """``yaml.safe_load`` that refuses a key given twice in one mapping (YAML forbids it; PyYAML would keep the
    last silently, so ``module: [reduced]`` then ``module: [naive]`` ran naive only). Merge keys (``<<``) still
    override as usual."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=deep)
            if not isinstance(key, str | int | float | bool):
                continue  # an unhashable key: SafeLoader's own error follows
            if key in seen:
                problem = f"'{key}' is given twice in one mapping (keep one)"
                raise yaml.constructor.ConstructorError(None, None, problem, key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def read_yaml(path: Path, what: str = "spec") -> dict[str, Any]:
    """A YAML mapping from ``path``, or one :class:`SpecError` line naming the file (``what`` it should be)."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise SpecError(f"{path}: {what} file not found (the shipped ones are in {SPEC_DIR})") from None
    except (OSError, UnicodeDecodeError) as e:
        raise SpecError(f"{path}: cannot read the {what} ({one_line(e)})") from None
    try:
        raw = yaml.load(text, Loader=_NoDuplicateKeys)  # noqa: S506 (a SafeLoader)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        problem = getattr(e, "problem", None) or "invalid YAML"
        raise SpecError(f"{path}:{where}: {problem}; fix the YAML syntax") from None
    if not isinstance(raw, dict):
        raise SpecError(f"{path}: a {what} must be a YAML mapping, got {type(raw).__name__}")
    return raw


def referred_file(referrer: Path, field: str, name: str) -> Path:
    """The spec file that ``referrer``'s ``field`` names (relative to ``referrer``'s folder), or one
    :class:`SpecError` line naming the referring file and field when it does not exist."""
    target = (referrer.parent / name).resolve()
    if not target.is_file():
        where = f"looked for {target}; the shipped specs are in {SPEC_DIR}"
        raise SpecError(f"{referrer}: {field}: {name}: no such spec file ({where})")
    return target


def _resolve_raw(path: Path, depth: int = 0) -> tuple[dict[str, Any], Spec | None]:
    """The raw dict of a spec file after its ``base:`` chain, and the spec itself when the file stands alone
    (validated against its claims); None for a derived file."""
    if depth > 8:
        raise SpecError(f"{path}: base: chain is too deep (a cycle?)")
    raw = read_yaml(path)
    if "base" not in raw:
        if "overrides" in raw:
            raise SpecError(f"{path}: 'overrides' needs a 'base' spec to apply to")
        return raw, _validate(raw, str(path), claims=True)
    base = raw.pop("base")
    overrides = raw.pop("overrides", {}) or {}
    if not isinstance(base, str) or not isinstance(overrides, dict):
        raise SpecError(f"{path}: 'base' must be a file name and 'overrides' a mapping of KEY: VALUE")
    base_raw, _ = _resolve_raw(referred_file(path, "base", base), depth + 1)
    base_raw.pop("reference", None)  # the base table's published totals are not the derived network's
    return apply_overrides(base_raw, {**raw, **overrides}, str(path)), None


# ----------------------------------------------------------------------------------------------- validation
def _location(raw: dict[str, Any], loc: tuple[Any, ...]) -> str:
    """A pydantic error location as a reader finds it in the file: rows named by position and id."""
    parts: list[str] = []
    i = 0
    while i < len(loc):
        part = loc[i]
        if part == "layers" and i + 1 < len(loc) and isinstance(loc[i + 1], int):
            idx = loc[i + 1]
            rows = raw.get("layers") or []
            rid = rows[idx].get("id") if idx < len(rows) and isinstance(rows[idx], dict) else None
            parts.append(f"layers[{idx}]" + (f" (id {rid})" if rid is not None else ""))
            i += 2
            if i < len(loc) and loc[i] in ROW_TYPES:
                i += 1  # the discriminator tag pydantic inserts
            continue
        parts.append(str(part))
        i += 1
    return ".".join(parts) or "(top level)"


def validation_message(source: str, raw: dict[str, Any], e: ValidationError, reference: str) -> str:
    """One line for a pydantic error: the file, the field path (rows named by id) and what is wrong."""
    err = e.errors()[0]
    where = _location(raw, tuple(err["loc"]))
    msg = err["msg"].removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        msg = f"unknown field {str(err['loc'][-1])!r}; check the spelling against {reference}"
    elif err["type"] == "union_tag_invalid":
        msg = f"unknown row type; use one of {', '.join(sorted(ROW_TYPES))}"
    elif err["type"] == "union_tag_not_found":
        msg = "each row needs a 'type'"
    more = f" (and {len(e.errors()) - 1} more)" if len(e.errors()) > 1 else ""
    return f"{source}: {where}: {msg}{more}"


def _validate(raw: dict[str, Any], source: str, claims: bool) -> Spec:
    try:
        spec = Spec.model_validate(raw)
    except ValidationError as e:
        raise SpecError(validation_message(source, raw, e, REFERENCE)) from None
    try:
        if claims:
            check_claims(spec)
        else:
            plan(spec)
    except SpecError as e:
        raise SpecError(f"{source}: {e}") from None
    return spec


def derive(spec: Spec, overrides: dict[str, Any], source: str) -> Spec:
    """``spec`` with ``overrides`` applied, validated as a variant; errors start with ``source`` (the variant as a
    reader knows it: ``specs/googlenet-small.yaml with module=naive``)."""
    if not overrides:
        return spec
    return _validate(apply_overrides(spec.to_raw(), overrides, source), source, claims=False)


# --------------------------------------------------------------------------------------------------- loading
@dataclass(frozen=True)
class LoadedSpec:
    """A spec together with where it came from and what was overridden."""

    spec: Spec
    path: Path
    derived: bool
    overrides: dict[str, Any] = field(default_factory=dict)

    def with_overrides(self, overrides: dict[str, Any]) -> LoadedSpec:
        """This variant with more overrides, made in memory (the file is not read again). The recorded overrides
        list every one in the order it was applied (a key set again moves to the end)."""
        if not overrides:
            return self
        merged = {k: v for k, v in self.overrides.items() if k not in overrides} | overrides
        spec = derive(self.spec, overrides, f"{self.path} with {describe_overrides(merged)}")
        return LoadedSpec(spec, self.path, True, merged)


def load_spec(path: str | Path | None = None, overrides: dict[str, Any] | None = None) -> LoadedSpec:
    """Load, resolve ``base:``, apply overrides and validate a spec. Raises :class:`SpecError`."""
    p = Path(path) if path is not None else DEFAULT_SPEC
    raw, standalone = _resolve_raw(p)
    spec = standalone or _validate(raw, str(p), claims=False)
    return LoadedSpec(spec, p, standalone is None).with_overrides(dict(overrides or {}))


def variant_overrides(module: str | None, aux: bool | None, sets: list[str] | None) -> dict[str, Any]:
    """The variant choices of ``count``, ``train`` and ``bench`` (module kind, aux heads on/off, ``set`` items) as
    one override dict."""
    out: dict[str, Any] = {}
    if module is not None:
        out["module"] = module
    if aux is not None:
        out["aux.enabled"] = aux
    out.update(parse_overrides(sets))
    return out
