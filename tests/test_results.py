"""Run records and folders: the one place that knows the layout, its atomic writes and its one-line errors."""

from __future__ import annotations

import json

import pytest
import torch
from conftest import DATA, SMALL
from typer.testing import CliRunner

from inception_bench.cli import app
from inception_bench.errors import FieldError, IbenchError
from inception_bench.run.checkpoint import check_resumable, load_checkpoint
from inception_bench.store import AblationFolder, RunFolder, RunRecord, RunStatus, atomic_write_text

runner = CliRunner()


def test_a_record_round_trips_and_only_finished_statuses_are_records(tmp_path):
    run = RunFolder(tmp_path / "run")
    assert run.read_record() is None and run.read_metrics() == []
    record = RunRecord(status=RunStatus.completed, val_top1=0.5, val_top5=0.9, params=10, ops=20, epochs=2)
    run.write_record(record)
    assert run.read_record() == record
    assert "exit_code" not in json.loads(run.record_path.read_text())  # only a dead worker's record has one
    run.record_path.write_text(json.dumps({"status": "partial"}))
    with pytest.raises(IbenchError, match=r"final.json: corrupt results file \(status partial is not a finished"):
        run.read_record()
    run.record_path.write_text("{")
    with pytest.raises(IbenchError, match="final.json: corrupt results file .*; delete it to redo that run"):
        run.read_record()
    run.request_path.write_text("[1]")
    with pytest.raises(IbenchError, match="request.json: corrupt results file .*; delete the run folder"):
        run.read_request()


def test_writes_are_atomic_and_a_file_in_the_way_is_named(tmp_path):
    target = tmp_path / "a" / "b.txt"
    atomic_write_text(target, "one")
    atomic_write_text(target, "two")
    assert target.read_text() == "two" and [p.name for p in target.parent.iterdir()] == ["b.txt"]
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(IbenchError, match=f"{blocker}: exists and is not a folder"):
        RunFolder(blocker).create()
    with pytest.raises(IbenchError, match="cannot write here"):
        atomic_write_text(blocker / "x.json", "{}")
    assert blocker.read_text() == "x"


def test_the_ablation_layout_is_found_without_the_reader_knowing_it(tmp_path):
    folder = AblationFolder(tmp_path)
    for variant, seed in (("a", 0), ("a", 1), ("b", 0)):
        folder.run(variant, seed).write_record(RunRecord(status=RunStatus.failed, message="x"))
    (tmp_path / "a" / "seed-9").mkdir()  # a folder without a record is not a run
    found = sorted(str(r.path.relative_to(tmp_path)) for r in folder.run_folders())
    assert found == ["a/seed-0", "a/seed-1", "b/seed-0"]


def test_field_errors_show_what_was_typed():
    assert (
        str(FieldError("recipe.lr", "Input should be greater than 0", 0))
        == "recipe.lr=0: Input should be greater than 0"
    )
    assert str(FieldError("s2d_stem", "needs a stride-2 conv1")) == "s2d_stem: needs a stride-2 conv1"
    assert FieldError("inductor", "x", {"freezing": True}).value_text(" ") == " freezing=True"
    assert str(FieldError("lr", "y", 2).within("recipe")) == "recipe.lr=2: y"


def test_checkpoints_of_unknown_formats_or_without_a_run_state_are_refused(tmp_path):
    old = torch.load(DATA / "format1" / "checkpoint.pt", weights_only=True)
    newer = tmp_path / "newer.pt"
    torch.save({**old, "format": "ibench-checkpoint-9"}, newer)
    with pytest.raises(IbenchError, match="checkpoint format 'ibench-checkpoint-9' is newer than this ibench reads"):
        load_checkpoint(newer)
    bare = tmp_path / "bare.pt"
    torch.save({"format": "ibench-checkpoint-2", "model": old["model"], "spec": old["spec"]}, bare)
    with pytest.raises(IbenchError, match="bare.pt: cannot resume from it .no config, epoch, history, optimizer"):
        check_resumable(load_checkpoint(bare), bare)


def test_resuming_a_bare_checkpoint_is_one_error_line(tmp_path):
    old = torch.load(DATA / "format1" / "checkpoint.pt", weights_only=True)
    torch.save({"model": old["model"], "spec": old["spec"]}, tmp_path / "checkpoint.pt")
    args = ["train", str(SMALL), "--set", "width_mult=0.0625", "--data", "synthetic", "--device", "cpu"]
    result = runner.invoke(app, [*args, "--out", str(tmp_path), "--resume"])
    assert result.exit_code == 2 and "cannot resume from it" in result.stderr, result.output
    assert len(result.stderr.strip().splitlines()) == 1
