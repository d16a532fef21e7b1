"""Building blocks of GoogLeNet, named as in the paper's figures.

- :class:`ConvBlock`: conv -> (batch norm) -> ReLU. The paper applies ReLU after every convolution, the
  reductions and projections included; the conv has a bias unless batch norm follows it.
- :class:`SeparableStem`: the separable-conv1 hypothesis (depthwise 7x7 with depth multiplier 8, then 1x1).
- :class:`InceptionReduced` (Figure 2b) and :class:`InceptionNaive` (Figure 2a): four branches concatenated
  along channels in the order 1x1, 3x3, 5x5, pool. A branch of width 0 is left out.
- :class:`AuxClassifier`: the auxiliary head of section 5.

Execution variants: a block of the same family that computes the same function another way, made from a built
block by :func:`swapped` (the same submodules, so the same state dict and counts) when the model is built:
:class:`SpaceToDepthConvBlock` (a stride-2 conv1 on 2x2 space-to-depth blocks) and :class:`FusedInceptionReduced`
(the module's three input 1x1 convolutions as one). :class:`~inception_bench.models.googlenet.GoogLeNet` swaps
them in and out (``fuse_1x1``, ``space_to_depth_stem``); no forward reads a flag.
"""

from __future__ import annotations

from functools import partial
from typing import TypeVar

import torch
import torch.nn.functional as F
from torch import nn

M = TypeVar("M", bound=nn.Module)


def swapped(module: nn.Module, cls: type[M]) -> M:
    """``module`` as a new instance of ``cls``, a class of its family that only computes differently (an execution
    variant, or back): the same submodules, parameters, buffers and attributes, so the same state dict. The caller
    puts it where ``module`` was."""
    new = cls.__new__(cls)
    new.__dict__.update(module.__dict__)
    for key in ("_modules", "_parameters", "_buffers"):
        new.__dict__[key] = dict(module.__dict__[key])
    return new


def space_to_depth_conv(x: torch.Tensor, conv: nn.Conv2d) -> torch.Tensor:
    """``conv(x)`` for a stride-2 convolution (square kernel k, groups 1, zero padding p), computed as a
    stride-1 convolution over 2x2 space-to-depth blocks of the input.

    The input is zero-padded (p on the top and left, as much as the blocks need on the bottom and right; its
    channels up to a multiple of 4) and each 2x2 pixel block becomes one pixel of 4x the channels
    (``pixel_unshuffle``); the weight, zero-padded to an even kernel 2 x ceil(k/2) and to the same channels,
    goes through the same rearrangement. Output[i] = sum_k w[k] x[2i - p + k] either way, so the result is the
    same up to floating-point summation order, and gradients reach ``conv.weight`` and ``conv.bias`` unchanged.
    For conv1 (7x7/2 over 3 channels, which GPU tensor-core kernels pad to 8 channels in a separate pass) this
    is a 4x4/1 convolution over 16 channels: 256 multiply-adds per output instead of 147 (392 padded), in a
    shape tensor cores run well (the stem trick of MLPerf ResNet-50 submissions). Whether it is faster is for
    ``ibench bench --s2d-stem`` to say on each device.
    """
    weight = space_to_depth_weight(conv.weight).contiguous(memory_format=_layout(conv.weight))
    return F.conv2d(space_to_depth_input(x, conv), weight, conv.bias)


def space_to_depth_input(x: torch.Tensor, conv: nn.Conv2d) -> torch.Tensor:
    """The input of :func:`space_to_depth_conv`'s stride-1 convolution: ``x`` zero-padded and rearranged into
    2x2 blocks, ``(N, 16 x ceil(C / 4), H_out + ceil(k / 2) - 1, W_out + ceil(k / 2) - 1)`` for the
    convolution's output size H_out x W_out; in the autocast dtype when autocast is on, in ``x``'s memory layout."""
    _, in_ch, k, _ = conv.weight.shape
    assert not isinstance(conv.padding, str)  # a number of pixels, not "same"/"valid"
    p = conv.padding[0]
    half = -(-k // 2)  # the kernel in blocks
    out_h, out_w = ((n + 2 * p - k) // 2 + 1 for n in x.shape[-2:])
    bottom, right = (2 * (o - 1 + half) - n - p for o, n in zip((out_h, out_w), x.shape[-2:], strict=True))
    device = x.device.type
    if torch.amp.is_autocast_available(device) and torch.is_autocast_enabled(device):
        x = x.to(torch.get_autocast_dtype(device))  # rearrange in the precision the convolution reads: same values
    blocks = F.pixel_unshuffle(F.pad(x, (p, right, p, bottom, 0, -in_ch % 4)), 2)
    # CUDA's pixel_unshuffle returns NCHW whatever its input: keep the layout the convolution was given
    return blocks.contiguous(memory_format=_layout(x))


def _layout(t: torch.Tensor) -> torch.memory_format:
    channels_last = t.is_contiguous(memory_format=torch.channels_last) and not t.is_contiguous()
    return torch.channels_last if channels_last else torch.contiguous_format


def space_to_depth_weight(weight: torch.Tensor) -> torch.Tensor:
    """A stride-2 convolution's weight ``(out, in, k, k)`` for :func:`space_to_depth_conv`: zero-padded to
    channels a multiple of 4 and to an even kernel, then rearranged like the input,
    ``(out, 16 x ceil(in / 4), ceil(k / 2), ceil(k / 2))``; differentiable."""
    _, in_ch, k, _ = weight.shape
    return F.pixel_unshuffle(F.pad(weight, (0, k % 2, 0, k % 2, 0, -in_ch % 4)), 2)


class ConvBlock(nn.Module):
    """``conv`` (k x k, or kh x kw for a pair; ``padding`` by default keeps the size at stride 1) -> optional ``bn``
    -> ReLU."""

    def __init__(
        self,
        in_ch: int,
        out_ch: int,
        kernel: int | tuple[int, int],
        stride: int = 1,
        bn: bool = False,
        bn_eps: float = 1e-5,
        padding: int | None = None,
    ) -> None:
        super().__init__()
        kh, kw = (kernel, kernel) if isinstance(kernel, int) else kernel
        pad = (kh // 2, kw // 2) if padding is None else (padding, padding)
        self.conv = nn.Conv2d(in_ch, out_ch, (kh, kw), stride=stride, padding=pad, bias=not bn)
        self.bn = nn.BatchNorm2d(out_ch, eps=bn_eps) if bn else None
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.activate(self.conv(x))

    def activate(self, x: torch.Tensor) -> torch.Tensor:
        """What follows the convolution: batch norm (if any), then ReLU."""
        return self.relu(self.bn(x) if self.bn is not None else x)


class SpaceToDepthConvBlock(ConvBlock):
    """A stride-2 :class:`ConvBlock` whose convolution runs as :func:`space_to_depth_conv`: the same weights and
    the same function (an execution variant, made by ``swapped(block, SpaceToDepthConvBlock)``)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.activate(space_to_depth_conv(x, self.conv))


def branch_conv(
    in_ch: int,
    out_ch: int,
    kernel: int,
    *,
    stride: int = 1,
    stacked_3x3: bool = False,
    factorize_nxn: bool = False,
    bn: bool = False,
    bn_eps: float = 1e-5,
) -> nn.Module:
    """An Inception branch's k x k convolution (with its activation), as the spec factorises it: one
    :class:`ConvBlock`; or with ``stacked_3x3`` (k - 1) / 2 stacked 3x3 blocks, the first ``in_ch -> out_ch`` and the
    rest ``out_ch -> out_ch`` (BN-Inception's two 3x3 for a 5x5); and with ``factorize_nxn`` each n x n block (n > 1)
    as a 1 x n then an n x 1 block of ``out_ch`` filters (Inception-v3). ``stride`` applies to the last block (both
    directions). A stack is an ``nn.Sequential`` in order."""
    kernels = [3] * ((kernel - 1) // 2) if stacked_3x3 and kernel > 1 else [kernel]
    blocks: list[nn.Module] = []
    for i, k in enumerate(kernels):
        c, s = (in_ch if i == 0 else out_ch), (stride if i == len(kernels) - 1 else 1)
        if factorize_nxn and k > 1:
            blocks += [
                ConvBlock(c, out_ch, (1, k), bn=bn, bn_eps=bn_eps),
                ConvBlock(out_ch, out_ch, (k, 1), s, bn=bn, bn_eps=bn_eps),
            ]
        else:
            blocks.append(ConvBlock(c, out_ch, k, s, bn=bn, bn_eps=bn_eps))
    return blocks[0] if len(blocks) == 1 else nn.Sequential(*blocks)


class SeparableStem(nn.Module):
    """conv1 as a depthwise-separable 7x7: ``depthwise`` (groups = input channels, x8) -> ``pointwise`` 1x1.

    One activation at the end (as TF-slim's separable_conv2d). With 3 -> 24 -> 64 channels this has 2,712
    weights and 34.0M multiply-adds at 224x224: the paper's "2.7K / 34M" for conv1 (a hypothesis).
    """

    def __init__(
        self,
        in_ch: int,
        out_ch: int,
        kernel: int,
        stride: int,
        multiplier: int = 8,
        bn: bool = False,
        bn_eps: float = 1e-5,
    ) -> None:
        super().__init__()
        mid = in_ch * multiplier
        self.depthwise = nn.Conv2d(in_ch, mid, kernel, stride=stride, padding=kernel // 2, groups=in_ch, bias=False)
        self.pointwise = ConvBlock(mid, out_ch, 1, bn=bn, bn_eps=bn_eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pointwise(self.depthwise(x))


class ReducedBranch(nn.Module):
    """A branch of Figure 2b that starts with a 1x1 convolution: ``reduce`` then ``conv`` (the 3x3 or the 5x5)."""

    def __init__(self, reduce: ConvBlock, conv: nn.Module) -> None:
        super().__init__()
        self.reduce, self.conv = reduce, conv

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(self.reduce(x))


class PoolBranch(nn.Module):
    """Figure 2b's pool branch: a 3x3 ``pool`` (max in the paper) then the 1x1 ``proj``ection."""

    def __init__(self, pool: nn.Module, proj: ConvBlock) -> None:
        super().__init__()
        self.pool, self.proj = pool, proj

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(self.pool(x))


def branch_pool(kind: str, stride: int, ceil_mode: bool) -> nn.Module:
    """The pool branch's 3x3 pool (padding 1): ``max``, or ``avg`` counting the padding (as Caffe's BN-Inception)."""
    if kind == "avg":
        return nn.AvgPool2d(3, stride, padding=1, ceil_mode=ceil_mode, count_include_pad=True)
    return nn.MaxPool2d(3, stride, padding=1, ceil_mode=ceil_mode)


class _Inception(nn.Module):
    branch1x1: nn.Module | None
    branch3x3: nn.Module | None
    branch5x5: nn.Module | None
    branch_pool: nn.Module | None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        branches = (self.branch1x1, self.branch3x3, self.branch5x5, self.branch_pool)
        return torch.cat([b(x) for b in branches if b is not None], dim=1)


class InceptionReduced(_Inception):
    """Figure 2b: 1x1 | 1x1 reduce -> 3x3 | 1x1 reduce -> 5x5 | 3x3 max pool -> 1x1 pool proj."""

    branch1x1: ConvBlock | None
    branch3x3: ReducedBranch | None
    branch5x5: ReducedBranch | None
    branch_pool: PoolBranch | nn.Module | None

    def __init__(
        self,
        in_ch: int,
        n1x1: int,
        n3x3_reduce: int,
        n3x3: int,
        n5x5_reduce: int,
        n5x5: int,
        pool_proj: int,
        kernel5x5: int = 5,
        bn: bool = False,
        bn_eps: float = 1e-5,
        ceil_mode: bool = False,
        stacked_3x3: bool = False,
        factorize_nxn: bool = False,
        stride: int = 1,
        pool_kind: str = "max",
        pool_pass: bool = False,
    ) -> None:
        super().__init__()

        def conv(i: int, o: int, k: int) -> ConvBlock:
            return ConvBlock(i, o, k, bn=bn, bn_eps=bn_eps)

        spatial = partial(branch_conv, stride=stride, factorize_nxn=factorize_nxn, bn=bn, bn_eps=bn_eps)
        self.branch1x1 = conv(in_ch, n1x1, 1) if n1x1 else None
        self.branch3x3 = ReducedBranch(conv(in_ch, n3x3_reduce, 1), spatial(n3x3_reduce, n3x3, 3)) if n3x3 else None
        self.branch5x5 = (
            ReducedBranch(conv(in_ch, n5x5_reduce, 1), spatial(n5x5_reduce, n5x5, kernel5x5, stacked_3x3=stacked_3x3))
            if n5x5
            else None
        )
        pooling = branch_pool(pool_kind, stride, ceil_mode)
        if pool_pass:  # BN-Inception's "pass through": the pooled input itself
            self.branch_pool = pooling
        else:
            self.branch_pool = PoolBranch(pooling, conv(in_ch, pool_proj, 1)) if pool_proj else None


class FusedInceptionReduced(InceptionReduced):
    """An :class:`InceptionReduced` whose three 1x1 convolutions that read the module input (#1x1, #3x3 reduce,
    #5x5 reduce) run as one convolution, its weight theirs concatenated along output channels, its output split
    back (an execution variant, made by ``swapped(module, FusedInceptionReduced)``). Parameters, state dict,
    multiply-adds and the function computed are unchanged (up to floating-point summation order); the device runs
    one larger GEMM instead of three small ones, reads the input once, and in training sums one input gradient
    instead of three (the "horizontal fusion" inference engines apply to GoogLeNet)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # the branches that start with a 1x1 conv on x: (that conv block, what follows it in the branch)
        heads: list[tuple[ConvBlock, nn.Module | None]] = []
        if self.branch1x1 is not None:
            heads.append((self.branch1x1, None))
        heads += [(b.reduce, b.conv) for b in (self.branch3x3, self.branch5x5) if b is not None]
        if len(heads) < 2:  # nothing to fuse
            return super().forward(x)
        blocks = [block for block, _ in heads]
        biases = [block.conv.bias for block in blocks if block.conv.bias is not None]
        y = F.conv2d(x, torch.cat([block.conv.weight for block in blocks]), torch.cat(biases) if biases else None)
        sizes = [block.conv.out_channels for block in blocks]
        if blocks[0].bn is None:  # ReLU once over the fresh conv output (in place: nothing else reads it)
            parts = list(F.relu(y, inplace=True).split(sizes, dim=1))
        else:  # each branch's own batch norm (and running statistics) on its slice, then its ReLU
            parts = [block.activate(p) for block, p in zip(blocks, y.split(sizes, dim=1), strict=True)]
        outs = [p if rest is None else rest(p) for (_, rest), p in zip(heads, parts, strict=True)]
        if self.branch_pool is not None:
            outs.append(self.branch_pool(x))
        return torch.cat(outs, dim=1)


class InceptionNaive(_Inception):
    """Figure 2a: 1x1 | 3x3 | 5x5 | 3x3 max pool, all on the module's input; the pool branch passes all its
    input channels through, so the output is wider than the input."""

    def __init__(
        self,
        in_ch: int,
        n1x1: int,
        n3x3: int,
        n5x5: int,
        pool: bool,
        kernel5x5: int = 5,
        bn: bool = False,
        bn_eps: float = 1e-5,
        ceil_mode: bool = False,
        stacked_3x3: bool = False,
        factorize_nxn: bool = False,
        stride: int = 1,
        pool_kind: str = "max",
    ) -> None:
        super().__init__()

        spatial = partial(branch_conv, in_ch, stride=stride, factorize_nxn=factorize_nxn, bn=bn, bn_eps=bn_eps)
        self.branch1x1 = ConvBlock(in_ch, n1x1, 1, bn=bn, bn_eps=bn_eps) if n1x1 else None
        self.branch3x3 = spatial(n3x3, 3) if n3x3 else None
        self.branch5x5 = spatial(n5x5, kernel5x5, stacked_3x3=stacked_3x3) if n5x5 else None
        self.branch_pool = branch_pool(pool_kind, stride, ceil_mode) if pool else None


class GridReduction(nn.Module):
    """Inception-v3's grid reduction (Szegedy et al. 2015, Figure 10): the stride-2 max ``pool`` of the input beside
    a ``conv`` branch (1x1 reduce -> 3x3 with the pool's stride) that adds filters, concatenated (pool first): the
    grid shrinks while the filter bank grows, instead of a max pool alone, which the paper calls a representational
    bottleneck (sec. 2)."""

    def __init__(
        self,
        in_ch: int,
        reduce: int,
        out: int,
        pool: nn.MaxPool2d,
        stride: int = 2,
        bn: bool = False,
        bn_eps: float = 1e-5,
    ) -> None:
        super().__init__()
        self.pool = pool
        self.conv = ReducedBranch(
            ConvBlock(in_ch, reduce, 1, bn=bn, bn_eps=bn_eps), ConvBlock(reduce, out, 3, stride, bn=bn, bn_eps=bn_eps)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.pool(x), self.conv(x)], dim=1)


class FeatureBatchNorm(nn.BatchNorm1d):
    """Batch norm over features (``N x C``) that also trains on a batch of one image, which has no batch statistics
    (the last short batch of an epoch can be one image): such a batch is normalised by the running statistics,
    which it leaves unchanged. The state dict is ``nn.BatchNorm1d``'s."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training and x.shape[0] == 1:
            return F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias, False, 0.0, self.eps)
        return super().forward(x)


class AuxClassifier(nn.Module):
    """Section 5: avg ``pool`` -> 1x1 ``conv`` (+ BN with ``bn``) + ReLU -> ``fc`` (+ ``fc_bn`` with ``bn_fc``) + ReLU
    -> ``dropout`` -> ``classifier``. Inception-v3's head (``conv2``, ``fc=0``): avg ``pool`` -> 1x1 ``conv`` -> 5x5
    'valid' ``conv2`` -> global average pool -> ``classifier``."""

    def __init__(
        self,
        in_ch: int,
        num_classes: int,
        pool: nn.Module,
        pooled: int,
        conv: int = 128,
        fc: int = 1024,
        dropout: float = 0.7,
        bn: bool = False,
        bn_eps: float = 1e-5,
        bn_fc: bool = False,
        conv2: int = 0,
    ) -> None:
        super().__init__()
        self.pool = pool
        self.conv = ConvBlock(in_ch, conv, 1, bn=bn, bn_eps=bn_eps)
        self.conv2 = ConvBlock(conv, conv2, 5, bn=bn, bn_eps=bn_eps, padding=0) if conv2 else None
        features = conv2 if conv2 else conv * pooled * pooled
        self.fc = nn.Linear(features, fc, bias=not bn_fc) if fc else None
        self.fc_bn = FeatureBatchNorm(fc, eps=bn_eps) if bn_fc and fc else None  # Inception-v3's BN-auxiliary
        self.relu = nn.ReLU(inplace=True)
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(fc or features, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(self.pool(x))
        if self.conv2 is not None:
            x = F.adaptive_avg_pool2d(self.conv2(x), 1)
        x = torch.flatten(x, 1)
        if self.fc is not None:
            x = self.fc(x)
            x = self.relu(self.fc_bn(x) if self.fc_bn is not None else x)
        return self.classifier(self.dropout(x))
