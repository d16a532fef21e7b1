"""The typed values of Table 1's text columns, parsed once when a spec is validated.

Each type is a frozen value that pydantic validates from the table's text (or an instance) and serialises back
to the same text, so a spec dumped to YAML or JSON reads like the table:

- :class:`Shape`: an ``output`` size, ``"28x28x256"`` = height x width x depth (channels).
- :class:`Patch`: a ``patch size/stride``, ``"7x7/2"`` = a square ``kernel`` and its ``stride``.
- :class:`PaperFigure`: a printed ``params`` or ``ops`` figure, ``"2.7K"`` (K = 1024 weights) or ``"34M"``
  (M = 10^6 multiply-adds), with the precision it was printed to.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Self

from pydantic import GetCoreSchemaHandler
from pydantic_core import core_schema

_PATCH = re.compile(r"^(\d+)x(\d+)/(\d+)$")
_SHAPE = re.compile(r"^(\d+)x(\d+)x(\d+)$")
_FIGURE = re.compile(r"^(\d+(?:\.\d+)?)([KM])$")


class _TextValue:
    """A value written as text in the spec: pydantic parses it with ``parse`` and writes it back with ``str``."""

    example = ""  # the text form, for error messages

    @classmethod
    def parse(cls, text: str) -> Self:
        raise NotImplementedError

    @classmethod
    def _validate(cls, value: Any) -> Self:
        if isinstance(value, cls):
            return value
        if isinstance(value, str | int | float) and not isinstance(value, bool):
            return cls.parse(str(value))
        raise ValueError(f"expected text like {cls.example}, got {type(value).__name__}")

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        return core_schema.no_info_plain_validator_function(
            cls._validate, serialization=core_schema.plain_serializer_function_ser_schema(str)
        )


@dataclass(frozen=True)
class Shape(_TextValue):
    """An output size: ``height`` x ``width`` x ``depth`` (Table 1 order; PyTorch's is depth, height, width)."""

    height: int
    width: int
    depth: int
    example = "'28x28x256'"

    @classmethod
    def parse(cls, text: str) -> Shape:
        m = _SHAPE.match(text.strip())
        if not m:
            raise ValueError(f"output must look like '28x28x256' (height x width x depth), got {text!r}")
        return cls(int(m.group(1)), int(m.group(2)), int(m.group(3)))

    @property
    def chw(self) -> tuple[int, int, int]:
        """(channels, height, width), the order of PyTorch's tensors and of :class:`PlannedLayer` shapes."""
        return self.depth, self.height, self.width

    def __str__(self) -> str:
        return f"{self.height}x{self.width}x{self.depth}"


@dataclass(frozen=True)
class Patch(_TextValue):
    """A square window: ``kernel`` x ``kernel`` with ``stride`` (``"7x7/2"``)."""

    kernel: int
    stride: int
    example = "'3x3/2'"

    @classmethod
    def parse(cls, text: str) -> Patch:
        m = _PATCH.match(text.strip())
        if not m or m.group(1) != m.group(2) or int(m.group(1)) < 1 or int(m.group(3)) < 1:
            raise ValueError(f"patch must look like '3x3/2' (square kernel / stride >= 1), got {text!r}")
        return cls(int(m.group(1)), int(m.group(3)))

    def __str__(self) -> str:
        return f"{self.kernel}x{self.kernel}/{self.stride}"


@dataclass(frozen=True)
class PaperFigure(_TextValue):
    """A printed Table 1 figure: ``value`` in ``unit`` (K = 1024 weights, M = 10^6 multiply-adds), printed with
    ``decimals`` digits after the point."""

    value: float
    unit: str
    decimals: int
    example = "'2.7K'"

    @classmethod
    def parse(cls, text: str) -> PaperFigure:
        m = _FIGURE.match(text.strip())
        if not m:
            raise ValueError(f"paper figure must look like '2.7K' or '34M', got {text!r}")
        number = m.group(1)
        return cls(float(number), m.group(2), len(number.partition(".")[2]))

    @property
    def scale(self) -> int:
        return 1024 if self.unit == "K" else 10**6

    @property
    def exact(self) -> int:
        """The figure as a plain integer (2.7K -> 2765)."""
        return round(self.value * self.scale)

    @property
    def resolution(self) -> float:
        """One unit of the last printed digit, as a plain number (159K -> 1024; 2.7K -> 102.4)."""
        return self.scale / 10**self.decimals

    def __str__(self) -> str:
        return f"{self.value:.{self.decimals}f}{self.unit}"
