"""An Inception module written as its branches, one text line each (the ``module`` row of a spec).

A branch is a chain of operations separated by ``>``, read left to right from the module's input; the module
concatenates its branches' outputs along channels, in the order written. The operations:

- a convolution ``KHxKW[/S] WIDTH [valid]``: ``1x1 64``, ``3x3/2 384 valid``, ``1x7 128``. Stride ``S`` (default
  1) in both directions; padding ``KH//2, KW//2`` (the size kept at stride 1), or none with ``valid``. Each is a
  convolution -> (batch norm) -> ReLU, as every convolution of the network.
- a pool ``max|avg KxK[/S] [valid]``: ``avg 3x3``, ``max 3x3/2 valid``. Padding ``(K-1)//2`` unless ``valid``;
  an average pool counts the padding (as TF-slim and torchvision's ``F.avg_pool2d`` do). Its output has the
  channels of its input.
- a split ``{1x3 384 | 3x1 384}``, the last operation only: its convolutions read the same input and their
  outputs are concatenated (Inception-v3's expanded filter bank, Szegedy et al. 2015, Figure 7).

So Inception-v3's module of Figure 5 reads ``[1x1 64, 1x1 48 > 5x5 64, 1x1 64 > 3x3 96 > 3x3 96, avg 3x3 > 1x1 32]``
and a Figure 10 grid reduction ``[3x3/2 384 valid, 1x1 64 > 3x3 96 > 3x3/2 96 valid, max 3x3/2 valid]``.

Sizes follow PyTorch's rule, ``(n + 2p - k) // s + 1`` (pools with ``ceil_mode`` when the spec rounds up). Nothing
here imports torch.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Literal

from inception_bench.spec.types import _TextValue

MAX_WIDTH = 16384  # channels; a sanity bound so a typo cannot ask for terabytes (every width of a spec)
_CONV = re.compile(r"^(\d+)x(\d+)(?:/(\d+))?\s+(\d+)(\s+valid)?$")
_POOL = re.compile(r"^(max|avg)\s+(\d+)x(\d+)(?:/(\d+))?(\s+valid)?$")


def _out(size: int, kernel: int, stride: int, pad: int, ceil_mode: bool = False) -> int:
    span = size + 2 * pad - kernel
    out = (math.ceil(span / stride) if ceil_mode else span // stride) + 1
    if ceil_mode and (out - 1) * stride >= size + pad:  # PyTorch: a window must start inside the input
        out -= 1
    return out


@dataclass(frozen=True)
class Conv:
    """A ``kh x kw`` convolution of ``width`` filters, with ``stride``; padded to keep the size unless ``valid``."""

    kh: int
    kw: int
    width: int
    stride: int = 1
    valid: bool = False

    @property
    def padding(self) -> tuple[int, int]:
        return (0, 0) if self.valid else (self.kh // 2, self.kw // 2)

    def out_hw(self, h: int, w: int, ceil_mode: bool = False) -> tuple[int, int]:
        (ph, pw), s = self.padding, self.stride
        return _out(h, self.kh, s, ph), _out(w, self.kw, s, pw)

    def __str__(self) -> str:
        stride = f"/{self.stride}" if self.stride != 1 else ""
        return f"{self.kh}x{self.kw}{stride} {self.width}" + (" valid" if self.valid else "")


@dataclass(frozen=True)
class Pool:
    """A ``kernel x kernel`` max or average pool with ``stride``; padded by ``(kernel-1)//2`` unless ``valid``."""

    kind: Literal["max", "avg"]
    kernel: int
    stride: int = 1
    valid: bool = False

    @property
    def padding(self) -> int:
        return 0 if self.valid else (self.kernel - 1) // 2

    def out_hw(self, h: int, w: int, ceil_mode: bool = False) -> tuple[int, int]:
        k, s, p = self.kernel, self.stride, self.padding
        return _out(h, k, s, p, ceil_mode), _out(w, k, s, p, ceil_mode)

    def __str__(self) -> str:
        stride = f"/{self.stride}" if self.stride != 1 else ""
        return f"{self.kind} {self.kernel}x{self.kernel}{stride}" + (" valid" if self.valid else "")


@dataclass(frozen=True)
class Split:
    """Convolutions side by side on one input, their outputs concatenated in order."""

    convs: tuple[Conv, ...]

    def out_hw(self, h: int, w: int, ceil_mode: bool = False) -> tuple[int, int]:
        return self.convs[0].out_hw(h, w)

    def __str__(self) -> str:
        return "{" + " | ".join(map(str, self.convs)) + "}"


Op = Conv | Pool | Split


def _channels_after(op: Op, in_ch: int) -> int:
    """Channels out of one operation for ``in_ch`` in (a pool keeps its input's)."""
    if isinstance(op, Split):
        return sum(c.width for c in op.convs)
    return op.width if isinstance(op, Conv) else in_ch


def _parse_conv(text: str) -> Conv:
    m = _CONV.match(text.strip())
    if not m:
        raise ValueError(
            f"{text.strip()!r} is not an operation: use a conv 'KxK[/S] WIDTH [valid]' ('1x7 128', "
            "'3x3/2 384 valid'), a pool 'max|avg KxK[/S] [valid]' or a split '{1x3 384 | 3x1 384}'"
        )
    kh, kw, stride, width = int(m[1]), int(m[2]), int(m[3] or 1), int(m[4])
    conv = Conv(kh, kw, width, stride, bool(m[5]))
    if min(kh, kw, stride, width) < 1 or width > MAX_WIDTH:
        raise ValueError(f"{text.strip()!r}: kernel and stride must be 1 or more, the width 1 to {MAX_WIDTH}")
    if not conv.valid and (kh % 2 == 0 or kw % 2 == 0):
        raise ValueError(f"{text.strip()!r}: an even kernel cannot keep the size; use an odd one or 'valid'")
    return conv


def _parse_op(text: str) -> Op:
    text = text.strip()
    if text.startswith("{"):
        if not text.endswith("}"):
            raise ValueError(f"{text!r}: a split is '{{conv | conv ...}}'")
        convs = tuple(_parse_conv(part) for part in text[1:-1].split("|"))
        if len(convs) < 2:
            raise ValueError(f"{text!r}: a split needs two or more convolutions")
        if len({c.out_hw(64, 64) for c in convs}) != 1:
            raise ValueError(f"{text!r}: the split's convolutions must give the same size (same stride and padding)")
        return Split(convs)
    m = _POOL.match(text)
    if m:
        k, k2, stride = int(m[2]), int(m[3]), int(m[4] or 1)
        if k != k2 or k < 1 or stride < 1:
            raise ValueError(f"{text!r}: a pool's kernel is square ('3x3') and its stride 1 or more")
        if k % 2 == 0 and not m[5]:
            raise ValueError(f"{text!r}: an even kernel cannot keep the size; use an odd one or 'valid'")
        return Pool("max" if m[1] == "max" else "avg", k, stride, bool(m[5]))
    return _parse_conv(text)


@dataclass(frozen=True)
class Branch(_TextValue):
    """One branch of a ``module`` row: its operations in order (see the module docstring for the text form)."""

    ops: tuple[Op, ...]
    example = "'1x1 64 > 3x3 96'"

    @classmethod
    def parse(cls, text: str) -> Branch:
        parts = text.split(">")
        ops = tuple(_parse_op(part) for part in parts)
        if any(isinstance(op, Split) for op in ops[:-1]):
            raise ValueError(f"{text!r}: a split {{...}} can only end a branch")
        return cls(ops)

    def __str__(self) -> str:
        return " > ".join(map(str, self.ops))

    def out_channels(self, in_ch: int) -> int:
        """Channels out of the branch for ``in_ch`` in (a pool keeps its input's)."""
        c = in_ch
        for op in self.ops:
            c = _channels_after(op, c)
        return c

    def out_hw(self, h: int, w: int, ceil_mode: bool = False) -> tuple[int, int]:
        for op in self.ops:
            h, w = op.out_hw(h, w, ceil_mode)
        return h, w

    def scaled(self, scale: Callable[[int, bool], int]) -> Branch:
        """The branch with each convolution's width through ``scale(width, reduce)``; ``reduce`` is true for a 1x1
        convolution that another operation follows (a reduction) or that follows a pool (a projection), as the
        reduce/proj columns of GoogLeNet's table."""
        ops: list[Op] = []
        for i, op in enumerate(self.ops):
            if isinstance(op, Conv):
                one = op.kh == op.kw == 1
                reduce = one and (i + 1 < len(self.ops) or (i > 0 and isinstance(self.ops[i - 1], Pool)))
                ops.append(replace(op, width=scale(op.width, reduce)))
            elif isinstance(op, Split):
                ops.append(Split(tuple(replace(c, width=scale(c.width, False)) for c in op.convs)))
            else:
                ops.append(op)
        return Branch(tuple(ops))

    def weights(self, in_ch: int) -> int:
        """Convolution weights (no biases, no batch norm) for ``in_ch`` input channels."""
        total, c = 0, in_ch
        for op in self.ops:
            convs = op.convs if isinstance(op, Split) else (op,) if isinstance(op, Conv) else ()
            total += sum(c * v.kh * v.kw * v.width for v in convs)
            c = _channels_after(op, c)
        return total
