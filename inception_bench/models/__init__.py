"""GoogLeNet models built from specs: blocks (``blocks``), assembly (``googlenet``), torchvision weights."""

from inception_bench.models.googlenet import GoogLeNet, GoogLeNetOutputs, build_model

__all__ = ["GoogLeNet", "GoogLeNetOutputs", "build_model"]
