"""GoogLeNet models built from specs: blocks (``blocks``), assembly (``googlenet``), the factory (``factory``),
torchvision's weights (``torchvision_compat``)."""

from inception_bench.models.factory import MODELS, create_model, list_models, resolve_spec
from inception_bench.models.googlenet import GoogLeNet, GoogLeNetOutputs, build_model

__all__ = ["MODELS", "GoogLeNet", "GoogLeNetOutputs", "build_model", "create_model", "list_models", "resolve_spec"]
