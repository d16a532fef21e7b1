"""Progress output (--progress auto|plain|none, --quiet): a bar on a terminal; plain lines elsewhere or when told,
never a line per step (a heartbeat at most every HEARTBEAT_SECONDS); nothing with none."""

from __future__ import annotations

import sys

import torch
from conftest import TINY_CLI
from typer.testing import CliRunner

from inception_bench import progress as p
from inception_bench.cli import app
from inception_bench.progress import Progress, step_progress


def _terminal(monkeypatch) -> None:
    """stderr (as the test captures it: called in the test's body) as a terminal rich draws on, wide enough."""
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    monkeypatch.setenv("TERM", "xterm-256color")
    monkeypatch.setenv("COLUMNS", "160")
    for name in ("TTY_COMPATIBLE", "NO_COLOR", "FORCE_COLOR"):
        monkeypatch.delenv(name, raising=False)


def _steps(mode: str = "auto", steps: int = 3) -> None:
    with step_progress("val, 1 crop(s)", steps, mode) as advance:
        for _ in range(steps):
            advance(32)


def test_a_terminal_gets_a_bar_with_steps_and_images_per_second(monkeypatch, capsys):
    _terminal(monkeypatch)
    _steps()
    err = capsys.readouterr().err
    assert "val, 1 crop(s)" in err and "3/3" in err and "img/s" in err


def test_elsewhere_a_line_only_when_a_heartbeat_is_due_and_none_prints_nothing(monkeypatch, capsys):
    monkeypatch.setattr(sys.stderr, "isatty", lambda: False)
    _steps()  # a short loop: no line at all
    assert capsys.readouterr().err == ""
    monkeypatch.setattr(p, "HEARTBEAT_SECONDS", 0.0)  # every step is a minute later
    _steps(steps=4)
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 3  # steps 1..3; the last step needs no line
    assert lines[0].startswith("val, 1 crop(s): 1/4, ") and " img/s, about " in lines[0] and lines[0].endswith(" left")
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    _steps("none", 4)
    _steps("plain", 4)  # plain on a terminal: the lines, no bar
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("val, 1 crop(s): ") == 3 and "\x1b" not in captured.err


def test_training_progress_in_each_mode(monkeypatch, capsys):
    _terminal(monkeypatch)
    loss = torch.tensor(0.5)

    def epoch(mode: str) -> str:
        shown = Progress(mode, epochs=2, start_epoch=0, steps_per_epoch=100)
        for steps in (25, 50, 75, 100):
            if shown.wanted:
                shown.step(0, loss, steps, 25, seen=32 * steps, seconds=steps / 10)
        shown.line("epoch 1/2  train loss 0.5000")
        shown.close()
        return capsys.readouterr().err

    assert "epoch 1/2" in epoch("auto") and "img/s" in epoch("auto")  # the bar
    shown = Progress("auto", epochs=2, start_epoch=0, steps_per_epoch=19)  # before any reading: no made-up loss
    shown.close()
    err = capsys.readouterr().err
    assert "loss -  - img/s" in err and "0.000" not in err
    monkeypatch.setattr(p, "HEARTBEAT_SECONDS", 0.0)
    readings = {n: [s for s in range(1, n + 1) if Progress("plain", 1, 0, n).due(s)] for n in (19, 64, 1000)}
    assert readings[19] == list(range(1, 20))  # a short epoch: every step, so its bar moves
    assert readings[64] == [*range(6, 64, 6), 64] and readings[1000] == list(range(25, 1001, 25))
    assert not Progress("none", 1, 0, 19).due(19)  # nothing shown: nothing read
    assert epoch("plain").splitlines() == [
        "epoch 1/2: step 25/100, loss 0.5000, 320 img/s, about 8 s left in the epoch",
        "epoch 1/2: step 50/100, loss 0.5000, 320 img/s, about 5 s left in the epoch",
        "epoch 1/2: step 75/100, loss 0.5000, 320 img/s, about 2 s left in the epoch",
        "epoch 1/2  train loss 0.5000",
    ]
    assert epoch("none") == ""


def test_train_quiet_prints_its_result_only_and_plain_lines_go_to_a_log(tmp_path, monkeypatch):
    monkeypatch.setattr(p, "HEARTBEAT_SECONDS", 0.0)  # a heartbeat due at every chance the step loop gives it
    runner = CliRunner()
    quiet = runner.invoke(app, ["train", "small", *TINY_CLI, "--out", str(tmp_path / "a"), "--quiet"])
    assert quiet.exit_code == 0, quiet.output
    assert quiet.stderr == "" and quiet.stdout.startswith("completed: val top-1 ")
    plain = ["--out", str(tmp_path / "b"), "--progress", "plain", "--batch-size", "8"]
    logged = runner.invoke(app, ["train", "small", *TINY_CLI, *plain])
    assert logged.exit_code == 0, logged.output
    assert "epoch 1/1  train loss " in logged.stderr and "\x1b" not in logged.stderr
    # within the epoch: a line at each reading of the loss (every 25th step at most, ten times an epoch at least:
    # every 6th of 64 steps here), none at its end
    beats = [line for line in logged.stderr.splitlines() if line.startswith("epoch 1/1: step ")]
    steps = int(beats[0].split("/")[2].split(",")[0])
    assert steps == 64 and [int(b.split()[3].split("/")[0]) for b in beats] == list(range(6, 64, 6))
    bad = runner.invoke(app, ["train", "small", *TINY_CLI, "--out", str(tmp_path / "c"), "--progress", "loud"])
    assert bad.exit_code == 2 and "--progress" in bad.output and not (tmp_path / "c").exists()
