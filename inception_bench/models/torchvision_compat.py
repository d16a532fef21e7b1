"""Load torchvision googlenet weights into the model built from ``specs/googlenet-torchvision.yaml``.

torchvision names the branches by position (``branch1`` ... ``branch4``) and the stem convs ``conv2``/``conv3``,
and keeps every layer at the top level; this project names them as the paper does and groups them into stem,
stages and head. :func:`from_torchvision_state_dict` renames the keys and nothing else (no tensor is changed), so
``model.load_state_dict(from_torchvision_state_dict(sd, model), strict=True)`` loads
``torchvision.models.googlenet(aux_logits=True).state_dict()`` and the two models compute the same outputs.
A state dict saved without aux heads (``aux_logits=False``, as torchvision's IMAGENET1K_V1 file after loading)
loads into a spec with ``aux.enabled=false``.

``specs/inception-v3.yaml`` lists torchvision's ``inception_v3`` tensors in torchvision's order (its module rows
are written branch by branch as torchvision registers them), so :func:`by_position` maps its state dict:
``model.load_state_dict(by_position(tv.state_dict(), model))`` (with ``transform_input=True`` for torchvision's
ImageNet weights, which expect it).
"""

from __future__ import annotations

import re

import torch

from inception_bench.models.googlenet import GoogLeNet

# torchvision's names -> our layer names (the network then places each layer in its part: GoogLeNet.nest_keys)
_RENAMES: list[tuple[str, str]] = [
    (r"^conv2\.", "conv2.reduce."),
    (r"^conv3\.", "conv2.conv."),
    (r"^(inception\w+)\.branch1\.", r"\1.branch1x1."),
    (r"^(inception\w+)\.branch2\.0\.", r"\1.branch3x3.reduce."),
    (r"^(inception\w+)\.branch2\.1\.", r"\1.branch3x3.conv."),
    (r"^(inception\w+)\.branch3\.0\.", r"\1.branch5x5.reduce."),
    (r"^(inception\w+)\.branch3\.1\.", r"\1.branch5x5.conv."),
    (r"^(inception\w+)\.branch4\.1\.", r"\1.branch_pool.proj."),
    (r"^(aux\d)\.fc1\.", r"\1.fc."),
    (r"^(aux\d)\.fc2\.", r"\1.classifier."),
]


def torchvision_key(key: str) -> str:
    """Our layer name for one torchvision googlenet state-dict key (keys with no rule keep their name)."""
    for pattern, repl in _RENAMES:
        new, n = re.subn(pattern, repl, key)
        if n:
            return new
    return key


def from_torchvision_state_dict(state_dict: dict[str, torch.Tensor], model: GoogLeNet) -> dict[str, torch.Tensor]:
    """A torchvision googlenet state dict with its keys renamed for ``model`` (a :class:`GoogLeNet`)."""
    return model.nest_keys({torchvision_key(k): v for k, v in state_dict.items()})


def by_position(state_dict: dict[str, torch.Tensor], model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """``state_dict``'s tensors under ``model``'s keys, in order: for a spec that lists the same tensors in the same
    order (``inception-v3`` and torchvision's ``inception_v3``). ValueError names the first tensor that differs in
    shape, or the counts."""
    ours = model.state_dict()
    if len(ours) != len(state_dict):
        raise ValueError(f"the state dict has {len(state_dict)} tensors, the model {len(ours)}")
    out = {}
    for (key, mine), (their_key, value) in zip(ours.items(), state_dict.items(), strict=True):
        if mine.shape != value.shape:
            raise ValueError(f"{their_key} {tuple(value.shape)} does not fit {key} {tuple(mine.shape)}")
        out[key] = value
    return out
