"""The architecture spec: Table 1 of the GoogLeNet paper as YAML, validated, with variants as overrides.

- :mod:`~inception_bench.spec.types`: the table's text columns as typed values (shape, patch, paper figure).
- :mod:`~inception_bench.spec.branches`: a module row's branches as text (Inception-v3's modules).
- :mod:`~inception_bench.spec.schema`: the rows, the aux heads and :class:`Spec`.
- :mod:`~inception_bench.spec.plan`: every module's widths and sizes, in plain Python.
- :mod:`~inception_bench.spec.load`: files, ``base:`` chains, overrides and one-line errors.
- :mod:`~inception_bench.spec.registry`: the named specs (``paper``, ``small``, ``torchvision``, ``bn-inception``,
  ``inception-v3``).

Nothing here imports torch.
"""

from inception_bench.spec.branches import Branch, Conv, Pool, Split
from inception_bench.spec.load import (
    DEFAULT_SPEC,
    SPEC_DIR,
    LoadedSpec,
    display_path,
    load_spec,
    parse_overrides,
    read_yaml,
    referred_file,
    validation_message,
    variant_overrides,
)
from inception_bench.spec.plan import PlannedLayer, aux_pool_out, check_claims
from inception_bench.spec.registry import MODELS, list_models, resolve_spec
from inception_bench.spec.schema import (
    AnyRow,
    AuxSpec,
    AvgPoolRow,
    ConvRow,
    DropoutRow,
    InceptionRow,
    LinearRow,
    MaxPoolRow,
    ModuleRow,
    SoftmaxRow,
    Spec,
    row_name,
)
from inception_bench.spec.types import PaperFigure, Patch, Shape

__all__ = [
    "DEFAULT_SPEC",
    "MODELS",
    "SPEC_DIR",
    "AnyRow",
    "AuxSpec",
    "AvgPoolRow",
    "Branch",
    "Conv",
    "ConvRow",
    "DropoutRow",
    "InceptionRow",
    "LinearRow",
    "LoadedSpec",
    "MaxPoolRow",
    "ModuleRow",
    "PaperFigure",
    "Patch",
    "PlannedLayer",
    "Pool",
    "Shape",
    "SoftmaxRow",
    "Spec",
    "Split",
    "aux_pool_out",
    "check_claims",
    "display_path",
    "list_models",
    "load_spec",
    "parse_overrides",
    "read_yaml",
    "referred_file",
    "resolve_spec",
    "row_name",
    "validation_message",
    "variant_overrides",
]
