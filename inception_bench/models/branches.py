"""An Inception module built from a ``module`` row's branches (:mod:`inception_bench.spec.branches`).

:class:`BranchModule` holds one ``nn.Sequential`` per branch (``branches.0``, ``branches.1``, ...), each operation
one child in order: a convolution is a :class:`~inception_bench.models.blocks.ConvBlock` (conv -> batch norm ->
ReLU), a pool an ``nn.MaxPool2d`` / ``nn.AvgPool2d`` (counting the padding), a split a :class:`SplitConcat`. Its
output is the branches' outputs concatenated along channels in the row's order. Parameters therefore come in the
order the row is written, which for Inception-v3's rows is torchvision's ``inception_v3`` order as well.
"""

from __future__ import annotations

import torch
from torch import nn

from inception_bench.models.blocks import ConvBlock
from inception_bench.spec import Branch, Conv, Pool, Split


class SplitConcat(nn.ModuleList):
    """Blocks that read the same input, their outputs concatenated along channels (Inception-v3, Figure 7)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([block(x) for block in self], dim=1)


def _conv(in_ch: int, op: Conv, bn: bool, bn_eps: float) -> ConvBlock:
    return ConvBlock(in_ch, op.width, (op.kh, op.kw), op.stride, bn, bn_eps, 0 if op.valid else None)


def build_branch(in_ch: int, branch: Branch, bn: bool, bn_eps: float, ceil_mode: bool) -> nn.Sequential:
    """One branch's operations in order, from ``in_ch`` input channels."""
    layers: list[nn.Module] = []
    c = in_ch
    for op in branch.ops:
        if isinstance(op, Conv):
            layers.append(_conv(c, op, bn, bn_eps))
            c = op.width
        elif isinstance(op, Split):
            layers.append(SplitConcat(_conv(c, v, bn, bn_eps) for v in op.convs))
            c = sum(v.width for v in op.convs)
        elif isinstance(op, Pool) and op.kind == "max":
            layers.append(nn.MaxPool2d(op.kernel, op.stride, op.padding, ceil_mode=ceil_mode))
        else:
            layers.append(nn.AvgPool2d(op.kernel, op.stride, op.padding, ceil_mode=ceil_mode, count_include_pad=True))
    return nn.Sequential(*layers)


class BranchModule(nn.Module):
    """An Inception module as written in a ``module`` row: its branches side by side, concatenated."""

    def __init__(
        self, in_ch: int, branches: tuple[Branch, ...], bn: bool = False, bn_eps: float = 1e-5, ceil_mode: bool = False
    ) -> None:
        super().__init__()
        self.branches = nn.ModuleList(build_branch(in_ch, b, bn, bn_eps, ceil_mode) for b in branches)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([branch(x) for branch in self.branches], dim=1)

    def output_blocks(self) -> list[nn.Module]:
        """What makes each part of the output: each branch, or each convolution of a split that ends one."""
        blocks: list[nn.Module] = []
        for branch in self.branches:
            assert isinstance(branch, nn.Sequential)
            last = branch[-1]
            blocks += list(last) if isinstance(last, SplitConcat) else [branch]
        return blocks
