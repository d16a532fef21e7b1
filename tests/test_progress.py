"""Progress within a loop (evaluation, the learning-rate range test): a bar with steps, images/s and the time left
on a terminal; nothing at all elsewhere (a log file gets no line per step)."""

from __future__ import annotations

import sys

from inception_bench.progress import step_progress


def _steps(enabled: bool = True) -> None:
    with step_progress("val, 1 crop(s)", 3, enabled) as advance:
        for _ in range(3):
            advance(32)


def test_a_terminal_gets_a_bar_with_steps_and_images_per_second(monkeypatch, capsys):
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    monkeypatch.setenv("TERM", "xterm-256color")  # a terminal rich draws on, wide enough for the row
    monkeypatch.setenv("COLUMNS", "160")
    for name in ("TTY_COMPATIBLE", "NO_COLOR", "FORCE_COLOR"):
        monkeypatch.delenv(name, raising=False)
    _steps()
    err = capsys.readouterr().err
    assert "val, 1 crop(s)" in err and "3/3" in err and "img/s" in err


def test_elsewhere_or_quiet_nothing_is_printed(monkeypatch, capsys):
    monkeypatch.setattr(sys.stderr, "isatty", lambda: False)
    _steps()
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    _steps(enabled=False)
    captured = capsys.readouterr()
    assert captured.err == "" and captured.out == ""
