"""``--log tensorboard|wandb|mlflow``: what each tracker holds, read back with its own reader (TensorBoard's event
reader, the W&B offline run files parsed with W&B's protobuf records, MLflow's client), equals metrics.jsonl epoch
by epoch, the record's test figures and the run's config; resumes send each epoch once; failures are one line."""

from __future__ import annotations

import json
import struct
import sys
import time

import numpy as np
import pytest
from conftest import SMALL, invoke_ablate, write_ablation
from typer.testing import CliRunner

from inception_bench.cli import app

pytest.importorskip("tensorboard", reason="the dev extra installs tensorboard")
pytest.importorskip("wandb", reason="the dev extra installs wandb")
pytest.importorskip("mlflow", reason="the dev extra installs mlflow-skinny")
from google.protobuf.message import DecodeError  # noqa: E402
from mlflow.tracking import MlflowClient  # noqa: E402
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator  # noqa: E402
from tensorboard.plugins.hparams import plugin_data_pb2  # noqa: E402
from wandb.proto import wandb_internal_pb2  # noqa: E402

runner = CliRunner()
TINY = ["--set", "width_mult=0.125", "--data", "synthetic", "--batch-size", "64", "--workers", "0"]
ALL = ["--log", "tensorboard", "--log", "wandb", "--log", "mlflow"]


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    """The trackers' defaults: W&B offline, MLflow in a local store (whatever this machine's environment says)."""
    for name in ("WANDB_MODE", "WANDB_PROJECT", "MLFLOW_TRACKING_URI", "MLFLOW_EXPERIMENT_NAME"):
        monkeypatch.delenv(name, raising=False)


def _train(out, *extra):
    return runner.invoke(app, ["train", "small", *TINY, "--device", "cpu", "--out", str(out), *extra])


def _rows(out) -> list[dict]:
    return [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]


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


def _wandb_records(path) -> list:
    """The records of a W&B transaction log (``run-<id>.wandb``): a 7-byte header, then LevelDB-log framing
    (32 KiB blocks; chunks of a 7-byte header: crc32, length, type 1 full / 2 first / 3 middle / 4 last)."""
    data = path.read_bytes()
    assert data[:4] == b":W&B"
    records, pos, part = [], 7, b""
    while pos + 7 <= len(data):
        if 32768 - pos % 32768 < 7:  # a block's tail too short for a header: padding
            pos += 32768 - pos % 32768
            continue
        _, length, kind = struct.unpack("<IHB", data[pos : pos + 7])
        part += data[pos + 7 : pos + 7 + length]
        pos += 7 + length
        if kind in (1, 4):
            record = wandb_internal_pb2.Record()
            record.ParseFromString(part)
            records.append(record)
            part = b""
    return records


def _wandb(folder) -> dict:
    """What the folder's W&B offline runs hold, once their files have settled (W&B's service process writes them
    after ``finish()`` returns: on a loaded machine a read right away can miss the last run): every run folder has
    its transaction log and two reads half a second apart agree (at most 30 s)."""
    deadline, last = time.monotonic() + 30, None
    while True:
        runs = list(folder.glob("wandb/offline-run-*"))
        try:
            found = _wandb_now(folder)
        except (AssertionError, DecodeError):  # a file still being written
            found = None
        complete = bool(runs) and all(list(run.glob("run-*.wandb")) for run in runs)
        if (complete and found is not None and found == last) or time.monotonic() > deadline:
            return found if found is not None else _wandb_now(folder)
        last = found
        time.sleep(0.5)


def _wandb_now(folder) -> dict:
    """What the folder's W&B offline runs hold: history rows by step (each step's every row, to show repeats), the
    run ids, groups and names, config and summary updates (JSON values by key) and exit codes."""
    found: dict = {
        "history": {},
        "ids": set(),
        "groups": set(),
        "names": set(),
        "config": {},
        "summary": {},
        "exit": [],
    }
    for path in sorted(folder.glob("wandb/offline-run-*/run-*.wandb")):
        for record in _wandb_records(path):
            kind = record.WhichOneof("record_type")
            if kind == "history":
                items = {i.key or "/".join(i.nested_key): json.loads(i.value_json) for i in record.history.item}
                found["history"].setdefault(record.history.step.num, []).append(items)
            elif kind == "run":
                found["ids"].add(record.run.run_id)
                found["groups"].add(record.run.run_group)
                found["names"].add(record.run.display_name)
                found["config"].update({i.key: json.loads(i.value_json) for i in record.run.config.update})
            elif kind == "summary":
                found["summary"].update({i.key: json.loads(i.value_json) for i in record.summary.update if i.key})
            elif kind == "exit":
                found["exit"].append(record.exit.exit_code)
    return found


def _mlflow(store) -> tuple[MlflowClient, list]:
    """The client of a local MLflow store and its runs."""
    client = MlflowClient(f"sqlite:///{store / 'mlflow.db'}")
    experiments = client.search_experiments()
    return client, client.search_runs([e.experiment_id for e in experiments])


def _numbers(row: dict) -> dict:
    return {k: v for k, v in row.items() if k != "epoch" and isinstance(v, int | float) and not isinstance(v, bool)}


def test_each_tracker_holds_metrics_jsonl_the_record_and_the_config(tmp_path):
    out = tmp_path / "run"
    result = _train(out, "--epochs", "2", *ALL, "--set", "layers.*.5x5=0")  # a key MLflow would refuse as it is
    assert result.exit_code == 0, result.output
    assert "INFO" not in result.stderr  # MLflow's own log lines (making the store's tables) are not shown
    rows = _rows(out)
    record = json.loads((out / "final.json").read_text())
    config = json.loads((out / "config.json").read_text())
    tests = {key: record[key] for key in ("test_top1", "test_top5", "test_loss")}

    # TensorBoard: float32 scalars at step = epoch, the test figures at the last epoch, the config as hparams
    expected = {key: {row["epoch"]: np.float32(row[key]).item() for row in rows} for key in _numbers(rows[0])}
    assert {"train_loss", "val_loss", "val_top1", "val_top5", "lr", "images_per_sec"} <= set(expected)
    assert _scalars(_events(out)) == {**expected, **{k: {2: np.float32(v).item()} for k, v in tests.items()}}
    hparams = _events(out).PluginTagToContent("hparams")
    starts = [plugin_data_pb2.HParamsPluginData.FromString(c) for c in hparams.values()]
    values = {k: v for s in starts if s.HasField("session_start_info") for k, v in s.session_start_info.hparams.items()}
    assert values["recipe.lr"].number_value == pytest.approx(config["recipe"]["lr"])
    # torch writes booleans as numbers
    assert values["recipe.nesterov"].number_value == 1 and values["recipe.data"].string_value == "synthetic"

    # W&B (offline): one history row per epoch with every number exactly, the test figures in the summary
    wandb = _wandb(out)
    assert {
        step: [{k: v for k, v in r.items() if not k.startswith("_")} for r in rs]
        for step, rs in wandb["history"].items()
    } == {row["epoch"]: [_numbers(row)] for row in rows}
    assert {k: wandb["summary"][k] for k in tests} == tests
    assert wandb["config"]["recipe"] == config["recipe"] and wandb["config"]["spec"] == config["spec"]
    assert wandb["names"] == {"run"} and wandb["exit"] == [0]
    assert json.loads((out / "trackers.json").read_text())["wandb"]["id"] == wandb["ids"].pop()

    # MLflow (a local store in the run folder): every number at step = epoch, exactly; the config as params
    client, runs = _mlflow(out)
    assert len(runs) == 1 and runs[0].info.status == "FINISHED" and runs[0].info.run_name == "run"
    for key in expected:
        history = client.get_metric_history(runs[0].info.run_id, key)
        assert [(m.step, m.value) for m in history] == [(row["epoch"], float(row[key])) for row in rows]
    for key, value in tests.items():
        assert [(m.step, m.value) for m in client.get_metric_history(runs[0].info.run_id, key)] == [(2, value)]
    params = runs[0].data.params
    assert params["recipe.lr"] == str(config["recipe"]["lr"]) and params["recipe.data"] == "synthetic"
    assert params["spec.name"] == config["spec"]["name"]
    assert config["overrides"]["layers.*.5x5"] == 0 and params["overrides.layers.all.5x5"] == "0"


@pytest.mark.parametrize("first_logged", [True, False])
def test_a_resumed_run_sends_each_epoch_once_to_each_tracker(tmp_path, monkeypatch, first_logged):
    """Stopped after epoch 1, then after epoch 2 (a restart that adds nothing), then resumed to the end; the first
    part logged or not (--log added on resuming: the earlier epochs are sent then)."""
    from inception_bench.run.settings import Recipe
    from inception_bench.run.train import train
    from inception_bench.spec import load_spec

    out = tmp_path / "run"
    spec = load_spec(SMALL, {"width_mult": 0.125})
    logged = Recipe(
        data="synthetic", epochs=3, batch_size=64, device="cpu", workers=0, log=["tensorboard", "wandb", "mlflow"]
    )
    first = logged if first_logged else logged.model_copy(update={"log": []})
    train(spec, first, out, stop_after=1, progress="none")
    store = out
    if first_logged:  # resumed on a store that does not hold the run: a new MLflow run there gets every epoch
        store = tmp_path / "moved"
        monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{store / 'mlflow.db'}")
    train(spec, logged, out, resume=True, stop_after=2, progress="none")
    train(spec, logged, out, resume=True, stop_after=2, progress="none")
    train(spec, logged, out, resume=True, progress="none")
    rows = _rows(out)
    assert [r["epoch"] for r in rows] == [1, 2, 3]
    events = _events(out)
    for key in ("val_top1", "train_loss"):
        steps = [(e.step, e.value) for e in events.Scalars(key)]
        assert steps == [(r["epoch"], np.float32(r[key]).item()) for r in rows]
    assert [e.step for e in events.Scalars("test_top1")] == [3]
    assert _sessions(out) == 1  # the hparams written once, whatever the restarts

    wandb = _wandb(out)  # every start of the run is an offline folder of the same W&B run
    assert len(wandb["ids"]) == 1 and len(list(out.glob("wandb/offline-run-*"))) == 3 + first_logged
    assert {step: [r["val_top1"] for r in rs] for step, rs in wandb["history"].items()} == {
        r["epoch"]: [r["val_top1"]] for r in rows
    }
    assert (
        wandb["exit"][-1] == 0
        and wandb["summary"]["test_top1"] == json.loads((out / "final.json").read_text())["test_top1"]
    )

    client, runs = _mlflow(store)  # one MLflow run, continued
    assert len(runs) == 1 and runs[0].info.status == "FINISHED"
    for key in ("val_top1", "train_loss"):
        history = client.get_metric_history(runs[0].info.run_id, key)
        assert sorted((m.step, m.value) for m in history) == [(r["epoch"], r[key]) for r in rows]


def test_an_ablation_is_one_run_per_variant_and_seed_grouped_by_its_name(tmp_path):
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
    result = invoke_ablate(path, "--out", tmp_path / "out", "--jobs", "2", *ALL)
    assert result.exit_code == 0, result.output
    client, runs = _mlflow(tmp_path / "out")  # one store for the ablation, its runs started at once
    assert sorted(r.info.run_name for r in runs) == ["module-reduced/seed-0", "module-reduced/seed-1"]
    assert {client.get_experiment(r.info.experiment_id).name for r in runs} == {"t"}
    for seed in (0, 1):
        folder = tmp_path / "out" / "module-reduced" / f"seed-{seed}"
        assert set(_scalars(_events(folder))["val_top1"]) == {1}
        wandb = _wandb(folder)
        assert wandb["groups"] == {"t"} and wandb["names"] == {f"module-reduced/seed-{seed}"}
        assert set(wandb["history"]) == {1}
    bad = invoke_ablate(path, "--out", tmp_path / "o2", "--log", "neptune")
    assert bad.exit_code == 2 and "--log" in bad.stderr and "tensorboard, wandb, mlflow" in bad.stderr
    assert not (tmp_path / "o2").exists()


@pytest.mark.parametrize(
    ("tracker", "package"), [("tensorboard", "tensorboard"), ("wandb", "wandb"), ("mlflow", "mlflow")]
)
def test_a_tracker_not_installed_is_one_line_and_nothing_is_written(tmp_path, monkeypatch, tracker, package):
    monkeypatch.setitem(sys.modules, package, None)
    result = _train(tmp_path / "run", "--epochs", "1", "--log", tracker)
    assert result.exit_code == 2 and f"--log {tracker}: needs the {package} package: pip install" in result.stderr
    assert f"inception-bench[{tracker}]" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and not (tmp_path / "run").exists()


def test_a_tracker_that_cannot_start_is_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "2")
    result = _train(tmp_path / "refused", "--epochs", "1", "--log", "mlflow")
    said = "error: --log mlflow: mlflow did not start (with MLFLOW_TRACKING_URI=http://127.0.0.1:9; unset it for "
    assert result.exit_code == 2 and result.stderr.startswith(said), result.output  # where it tried, said first
    assert len(result.stderr.strip().splitlines()) == 1 and not (tmp_path / "refused" / "final.json").exists()


def test_a_tracker_error_names_its_destination_without_credentials(monkeypatch):
    from inception_bench.run.tracking import _settings

    monkeypatch.setenv("MLFLOW_TRACKING_URI", "https://alice:s3cret@mlflow.example.org:5000/path")
    assert (
        _settings("mlflow")
        == " (with MLFLOW_TRACKING_URI=https://***@mlflow.example.org:5000/path; unset it for the local default)"
    )
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:////data/a@b/mlflow.db")  # an @ in a path is no credential
    assert "sqlite:////data/a@b/mlflow.db" in _settings("mlflow")
    monkeypatch.delenv("WANDB_MODE", raising=False)
    monkeypatch.delenv("WANDB_PROJECT", raising=False)
    assert _settings("wandb") == "" and _settings("tensorboard") == ""


def test_a_tracker_dropped_on_the_way_is_continued_by_the_resume_and_a_restart_forgets_them(
    tmp_path, monkeypatch, capsys
):
    from inception_bench.run import tracking
    from inception_bench.run.settings import Recipe
    from inception_bench.run.train import train
    from inception_bench.spec import load_spec

    out = tmp_path / "run"
    spec = load_spec(SMALL, {"width_mult": 0.125})
    recipe = Recipe(data="synthetic", epochs=2, batch_size=64, device="cpu", workers=0, log=["wandb", "mlflow"])
    epoch = tracking.MLflow.epoch

    def once_gone(self, row):  # the server is away for epoch 1 only
        monkeypatch.setattr(tracking.MLflow, "epoch", epoch)
        raise ConnectionError("the server went away")

    monkeypatch.setattr(tracking.MLflow, "epoch", once_gone)
    train(spec, recipe, out, stop_after=1, progress="none")
    assert capsys.readouterr().err.splitlines() == [  # one warning; the run goes on
        "warning: --log mlflow stopped (ConnectionError: the server went away); the run goes on without it "
        "(metrics.jsonl keeps every epoch)"
    ]
    assert [r["epoch"] for r in _rows(out)] == [1]
    saved = json.loads((out / "trackers.json").read_text())
    assert set(saved) == {"wandb", "mlflow"} and (saved["wandb"]["epochs"], saved["mlflow"]["epochs"]) == (1, 0)
    client, runs = _mlflow(out)
    assert [r.info.status for r in runs] == ["FAILED"]  # dropped: ended, not left running
    assert train(spec, recipe, out, resume=True, progress="none").status == "completed"
    client, runs = _mlflow(out)
    assert len(runs) == 1 and runs[0].info.status == "FINISHED" and runs[0].info.run_id == saved["mlflow"]["run_id"]
    assert [m.step for m in client.get_metric_history(runs[0].info.run_id, "val_top1")] == [1, 2]
    wandb = _wandb(out)
    assert len(wandb["ids"]) == 1 and sorted(wandb["history"]) == [1, 2]

    for name in ("checkpoint.pt", "final.json", "metrics.jsonl"):  # the run started again from scratch, untracked
        (out / name).unlink()
    train(spec, recipe.model_copy(update={"log": [], "epochs": 1}), out, progress="none")
    assert not (out / "trackers.json").exists()  # a later --log is a new tracker run, not the old one


def test_a_resume_to_another_wandb_project_is_a_new_run_with_every_epoch(tmp_path, monkeypatch):
    from inception_bench.run.tracking import Trackers
    from inception_bench.store import RunFolder

    folder = RunFolder(tmp_path / "run")
    folder.create()
    rows = [{"epoch": 1, "val_top1": 0.25}, {"epoch": 2, "val_top1": 0.5}]
    first = Trackers(["wandb"], folder, {"recipe": {"lr": 0.1}}, [])
    first.epoch(rows[0])
    first.close()
    again = Trackers(["wandb"], folder, {"recipe": {"lr": 0.1}}, rows[:1])  # the same place: nothing resent
    again.epoch(rows[1])
    again.close()
    before = _wandb(folder.path)
    assert len(before["ids"]) == 1 and {s: len(r) for s, r in before["history"].items()} == {1: 1, 2: 1}
    monkeypatch.setenv("WANDB_PROJECT", "elsewhere")
    moved = Trackers(["wandb"], folder, {"recipe": {"lr": 0.1}}, rows)  # another project: all of it, under a new id
    moved.close()
    after = _wandb(folder.path)
    assert len(after["ids"]) == 2 and {s: len(r) for s, r in after["history"].items()} == {1: 2, 2: 2}
    assert json.loads((folder.path / "trackers.json").read_text())["wandb"]["project"] == "elsewhere"


@pytest.mark.parametrize(
    ("raised", "status", "exit_code"), [(RuntimeError, "FAILED", 1), (KeyboardInterrupt, "KILLED", 1)]
)
def test_a_crash_ends_the_tracker_runs_failed_and_an_interruption_killed(
    tmp_path, monkeypatch, raised, status, exit_code
):
    import inception_bench.run.train as t
    from inception_bench.run.settings import Recipe
    from inception_bench.spec import load_spec

    def stopped(run, epoch, progress=None):
        raise raised("stopped in epoch 1")

    monkeypatch.setattr(t, "train_epoch", stopped)
    recipe = Recipe(data="synthetic", epochs=2, batch_size=64, device="cpu", workers=0, log=["wandb", "mlflow"])
    with pytest.raises(raised):
        t.train(load_spec(SMALL, {"width_mult": 0.125}), recipe, tmp_path / "run", progress="none")
    _, runs = _mlflow(tmp_path / "run")
    assert [r.info.status for r in runs] == [status]
    assert _wandb(tmp_path / "run")["exit"] == [1]  # W&B: failed either way, till a resume
