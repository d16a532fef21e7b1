"""Checkpoints: what a training run saves after every epoch, and how it is read back safely.

A checkpoint is a dict saved with ``torch.save`` that ``torch.load(weights_only=True)`` reads (tensors, numbers,
strings and containers only, so loading one runs no code): ``format``, ``config`` (the run's config.json),
``spec`` (the spec as plain data), ``epoch`` (epochs done), ``history`` (the metrics rows), ``model``,
``averaged`` (the weight average's state, or None), ``weights`` (``ema`` or ``raw``: which of the two the run's
headline uses; absent before 2026-12: the average), ``optimizer``, ``scheduler``, ``scaler`` and ``rng`` (the
torch, NumPy, Python and CUDA generators).

Format 2 keys the model as :class:`~inception_bench.models.GoogLeNet` nests it (``stem.conv1...``,
``stages.4.inception4a...``). Format 1 (before 2026-12) keyed every layer at the top level and put the aux heads
last; :func:`model_state` and :func:`optimizer_state` translate it, so old runs evaluate and resume.
"""

from __future__ import annotations

import io
import random
import re
from pathlib import Path
from typing import Any

import numpy as np
import torch
from pydantic import ValidationError

from inception_bench.errors import IbenchError
from inception_bench.models import GoogLeNet, build_model
from inception_bench.spec import Spec
from inception_bench.store import RunFolder, RunStatus, atomic_write_bytes

FORMAT = "ibench-checkpoint-2"
FORMAT_1 = "ibench-checkpoint-1"  # also what a checkpoint without "format" is
RESUME_KEYS = ("config", "epoch", "history", "optimizer", "scheduler", "scaler", "rng")


# --------------------------------------------------------------------------------------------------- RNGs
def rng_state() -> dict[str, Any]:
    """Every random generator a run draws from, as tensors and plain values (loadable with weights_only)."""
    np_state = np.random.get_state(legacy=True)
    assert isinstance(np_state, tuple)  # ("MT19937", keys, position, has_gauss, cached_gaussian)
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": torch.from_numpy(np_state[1].astype(np.int64)),
        "numpy_pos": int(np_state[2]),
        "python": list(random.getstate()[1]),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    np.random.set_state(("MT19937", state["numpy"].numpy().astype(np.uint32), state["numpy_pos"], 0, 0.0))
    random.setstate((3, tuple(state["python"]), None))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


# ------------------------------------------------------------------------------------------ save and load
def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """Write ``state`` (the fields in the module docstring, ``format`` added) atomically."""
    buf = io.BytesIO()
    torch.save({"format": FORMAT, **state}, buf)
    atomic_write_bytes(path, buf.getvalue())


def _why_none(path: Path) -> str:
    """What a missing checkpoint's run folder says of it: a run that ended without one (diverged in its first
    epoch, failed), or nothing (not a run folder)."""
    folder = RunFolder(path.parent)
    try:
        record = folder.read_record() if path.name == RunFolder.CHECKPOINT else None
    except IbenchError:
        record = None
    if record is None:
        return f"give a run directory's {RunFolder.CHECKPOINT}"
    if record.status not in (RunStatus.diverged, RunStatus.failed):  # such a run keeps its checkpoint
        return f"the run is {record.status.value}, so its checkpoint was moved or deleted"
    said = f": {record.message}" if record.message else ""
    return f"the run ({record.status.value}, {record.epochs} epoch(s)) saved none{said}"


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Load a checkpoint safely (``weights_only=True``: no code runs) with a clear error when it is bad."""
    if not path.is_file():
        raise IbenchError(f"{path}: checkpoint not found; {_why_none(path)}")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # truncated zip, foreign pickle, ...: torch raises many types
        raise IbenchError(f"{path}: {load_failure(e, path)}; re-run training to recreate it") from None
    if not isinstance(ckpt, dict) or "model" not in ckpt or "spec" not in ckpt:
        raise IbenchError(f"{path}: not an ibench checkpoint (no 'model'/'spec' entries)")
    if ckpt.get("format", FORMAT_1) not in (FORMAT_1, FORMAT):
        raise IbenchError(
            f"{path}: checkpoint format {ckpt['format']!r} is newer than this ibench reads ({FORMAT}); update it"
        )
    return ckpt


def load_failure(e: BaseException, path: Path | None = None) -> str:
    """Why ``torch.load(..., weights_only=True)`` refused a file, in one plain clause: not a PyTorch file at all
    (``path``'s first bytes are neither a zip archive's nor a pickle's), an object that loading would have had to
    run code for (named), or torch's own first sentence."""
    text = " ".join(str(e).split())
    if path is not None and not _looks_like_torch(path):
        return "not a PyTorch checkpoint (neither a zip archive nor a pickle: a text file or other data?)"
    refused = re.search(r"[Uu]nsupported (?:global: )?GLOBAL ([\w.]+)", text)
    if "Weights only load failed" in text and refused:
        name = refused.group(1)
        return f"refused: it holds {name}, which loading would have to run code for (ibench loads tensors only)"
    if "Weights only load failed" in text:  # junk where a pickle's opcodes should be
        return "not a readable checkpoint (its pickle is damaged or not one torch.save wrote)"
    first = re.split(r"(?<=[.!?]) ", text, maxsplit=1)[0]
    return f"not a readable checkpoint ({type(e).__name__}: {first})"


def _looks_like_torch(path: Path) -> bool:
    """Whether the file starts as torch.save's files do: a zip archive, or (older torch) a pickle."""
    try:
        with open(path, "rb") as f:
            head = f.read(4)
    except OSError:
        return True  # unreadable: torch's own error says why
    return head.startswith((b"PK\x03\x04", b"\x80"))


def check_resumable(ckpt: dict[str, Any], path: Path) -> None:
    """One error naming the file when a checkpoint lacks what resuming its run needs."""
    missing = [key for key in RESUME_KEYS if key not in ckpt]
    if missing:
        raise IbenchError(f"{path}: cannot resume from it (no {', '.join(missing)}); start the run in a new folder")


def _format1(ckpt: dict[str, Any]) -> bool:
    return ckpt.get("format", FORMAT_1) == FORMAT_1


def model_state(ckpt: dict[str, Any], model: GoogLeNet, averaged: bool = False) -> dict[str, torch.Tensor]:
    """The checkpoint's model weights for ``model`` (the weight average's with ``averaged``, keys without its
    ``module.`` prefix), in this format's keys."""
    state = ckpt["model"]
    if averaged:
        state = {k.removeprefix("module."): v for k, v in ckpt["averaged"].items() if k.startswith("module.")}
    return model.nest_keys(state) if _format1(ckpt) else state


def averaged_state(ckpt: dict[str, Any], model: GoogLeNet) -> dict[str, torch.Tensor]:
    """The weight average's state (``module.*`` weights and ``n_averaged``) in this format's keys."""
    state = ckpt["averaged"]
    return model.nest_keys(state, prefix="module.") if _format1(ckpt) else state


def optimizer_state(ckpt: dict[str, Any], model: GoogLeNet) -> dict[str, Any]:
    """The optimizer's state for ``model``. Format 1 listed the aux heads' parameters last; PyTorch identifies a
    parameter's state by its position, so the positions are mapped to this format's order."""
    state = ckpt["optimizer"]
    if not _format1(ckpt):
        return state
    names = [name for name, _ in model.named_parameters()]
    known = set(names)
    saved = [key for key in model.nest_keys(ckpt["model"]) if key in known]  # format 1's parameter order
    position = {old: names.index(name) for old, name in enumerate(saved)}
    if len(state["param_groups"]) != 1:
        raise IbenchError("checkpoint: its optimizer state has several parameter groups; ibench trains with one")
    (group,) = state["param_groups"]
    return {
        "state": {position[i]: s for i, s in state["state"].items()},
        "param_groups": [{**group, "params": list(range(len(names)))}],
    }


def spec_of(ckpt: dict[str, Any], source: str = "checkpoint") -> Spec:
    """The checkpoint's spec; errors name ``source`` (the file) and the spec's field."""
    from inception_bench.spec import validation_message

    raw = ckpt["spec"] if isinstance(ckpt["spec"], dict) else {}
    try:
        return Spec.model_validate(ckpt["spec"])
    except ValidationError as e:
        raise IbenchError(validation_message(f"{source}: spec", raw, e, "specs/googlenet.yaml")) from None


def state_dict_mismatch(e: BaseException) -> str:
    """A failed ``load_state_dict`` in one line: torch's missing, unexpected and size-mismatched keys, each list
    cut to its first few names with a count, never mid-word."""
    text = str(e)
    parts = []
    for label in ("Missing key(s)", "Unexpected key(s)"):
        found = re.search(rf"{re.escape(label)} in state_dict: (.*?)\.(\s|$)", text)
        if found:
            keys = re.findall(r'"([^"]+)"', found.group(1))
            more = f" and {len(keys) - 3} more" if len(keys) > 3 else ""
            parts.append(f"{label.split()[0].lower()} {', '.join(keys[:3])}{more}")
    sizes = re.findall(r"size mismatch for ([\w.]+): copying a param with shape (torch.Size\(\[[^\]]*\]\))", text)
    if sizes:
        name, shape = sizes[0]
        more = f" and {len(sizes) - 1} more" if len(sizes) > 1 else ""
        parts.append(f"size mismatch for {name} ({shape} in the file){more}")
    return "; ".join(parts) or " ".join(text.split()).split(". ")[0]


def model_from_checkpoint(ckpt: dict[str, Any], averaged: bool = True, source: str = "checkpoint") -> GoogLeNet:
    """The trained network of a checkpoint: the weights its run's headline uses (the average when present, unless
    the run found the raw weights better); ``averaged=False``: the raw weights. Errors name ``source`` (the
    file)."""
    model = build_model(spec_of(ckpt, source))
    use_average = averaged and bool(ckpt.get("averaged")) and ckpt.get("weights", "ema") == "ema"
    try:
        model.load_state_dict(model_state(ckpt, model, averaged=use_average))
    except (RuntimeError, KeyError, AttributeError) as e:
        raise IbenchError(f"{source}: the weights do not fit its spec ({state_dict_mismatch(e)})") from None
    return model
