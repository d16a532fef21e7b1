"""``--log tensorboard``: the event files read back with TensorBoard's own reader hold metrics.jsonl's numbers,
epoch by epoch, the record's test figures and the run's config as hparams."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
from conftest import SMALL, invoke_ablate, write_ablation
from typer.testing import CliRunner

from inception_bench.cli import app

pytest.importorskip("tensorboard", reason="the dev extra installs tensorboard")
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator  # noqa: E402
from tensorboard.plugins.hparams import plugin_data_pb2  # noqa: E402

runner = CliRunner()
TINY = ["--set", "width_mult=0.125", "--data", "synthetic", "--batch-size", "64", "--workers", "0"]


def _train(out, *extra):
    return runner.invoke(app, ["train", "small", *TINY, "--device", "cpu", "--out", str(out), *extra])


def _events(folder) -> EventAccumulator:
    events = EventAccumulator(str(folder))
    events.Reload()
    return events


def _sessions(folder) -> int:
    """How many hparams sessions the folder's event files hold (each file read raw, so that a repeat shows)."""
    from tensorboard.backend.event_processing.event_file_loader import EventFileLoader

    return sum(
        value.tag == "_hparams_/session_start_info"
        for path in folder.glob("events.out.tfevents.*")
        for event in EventFileLoader(str(path)).Load()
        for value in event.summary.value
    )


def _scalars(events: EventAccumulator) -> dict[str, dict[int, float]]:
    return {tag: {e.step: e.value for e in events.Scalars(tag)} for tag in events.Tags()["scalars"]}


def test_the_event_files_hold_metrics_jsonl_and_the_record(tmp_path):
    out = tmp_path / "run"
    result = _train(out, "--epochs", "2", "--log", "tensorboard")
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    record = json.loads((out / "final.json").read_text())
    scalars = _scalars(_events(out))
    expected = {
        key: {row["epoch"]: np.float32(row[key]).item() for row in rows}
        for key in rows[0]
        if key != "epoch" and isinstance(rows[0][key], int | float)
    }
    assert {"train_loss", "val_loss", "val_top1", "val_top5", "lr", "images_per_sec"} <= set(expected)
    for key in ("test_top1", "test_top5", "test_loss"):
        expected[key] = {2: np.float32(record[key]).item()}
    assert scalars == expected
    hparams = _events(out).PluginTagToContent("hparams")
    starts = [plugin_data_pb2.HParamsPluginData.FromString(c) for c in hparams.values()]
    values = {k: v for s in starts if s.HasField("session_start_info") for k, v in s.session_start_info.hparams.items()}
    config = json.loads((out / "config.json").read_text())
    assert values["recipe.lr"].number_value == pytest.approx(config["recipe"]["lr"])
    # torch writes booleans as numbers
    assert values["recipe.nesterov"].number_value == 1 and values["recipe.data"].string_value == "synthetic"


@pytest.mark.parametrize("first_logged", [True, False])
def test_a_resumed_run_has_each_epoch_once_and_its_hparams_once(tmp_path, first_logged):
    """Stopped after epoch 1, then after epoch 2 (a restart that adds nothing), then resumed to the end; the first
    part logged or not (--log added on resuming: the earlier epochs are replayed)."""
    from inception_bench.settings import Recipe
    from inception_bench.spec import load_spec
    from inception_bench.train import train

    out = tmp_path / "run"
    spec = load_spec(SMALL, {"width_mult": 0.125})
    logged = Recipe(data="synthetic", epochs=3, batch_size=64, device="cpu", workers=0, log=["tensorboard"])
    first = logged if first_logged else logged.model_copy(update={"log": []})
    train(spec, first, out, stop_after=1, quiet=True)
    train(spec, logged, out, resume=True, stop_after=2, quiet=True)
    train(spec, logged, out, resume=True, stop_after=2, quiet=True)
    train(spec, logged, out, resume=True, quiet=True)
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    events = _events(out)
    for key in ("val_top1", "train_loss"):
        steps = [(e.step, e.value) for e in events.Scalars(key)]
        assert steps == [(r["epoch"], np.float32(r[key]).item()) for r in rows] and len(steps) == 3
    assert [e.step for e in events.Scalars("test_top1")] == [3]
    assert _sessions(out) == 1  # the hparams written once, whatever the restarts


def test_an_ablation_logs_one_tensorboard_run_per_variant_and_seed(tmp_path):
    raw = {
        "name": "t",
        "spec": str(SMALL),
        "data": "synthetic",
        "recipe": {"epochs": 1, "batch_size": 64, "workers": 0, "device": "cpu"},
        "seeds": [0, 1],
        "set": {"width_mult": 0.125},
        "grid": {"module": ["reduced"]},
    }
    path = write_ablation(tmp_path, raw)
    result = invoke_ablate(path, "--out", tmp_path / "out", "--log", "tensorboard")
    assert result.exit_code == 0, result.output
    for seed in (0, 1):
        folder = tmp_path / "out" / "module-reduced" / f"seed-{seed}"
        assert list(folder.glob("events.out.tfevents.*"))
        assert set(_scalars(_events(folder))["val_top1"]) == {1}
    bad = invoke_ablate(path, "--out", tmp_path / "o2", "--log", "neptune")
    assert bad.exit_code == 2 and "--log" in bad.stderr and "tensorboard" in bad.stderr
    assert not (tmp_path / "o2").exists()


def test_without_tensorboard_installed_nothing_is_written(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorboard", None)
    result = _train(tmp_path / "run", "--epochs", "1", "--log", "tensorboard")
    assert result.exit_code == 2 and "--log tensorboard: needs the tensorboard package: pip install" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and not (tmp_path / "run").exists()
