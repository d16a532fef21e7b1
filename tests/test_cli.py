"""The ``ibench`` command line: in-process (typer's CliRunner), as a real subprocess, and under fuzzing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml
from conftest import BASE, ROOT, SMALL, TINY_CLI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from inception_bench.cli import app
from inception_bench.errors import SpecError
from inception_bench.spec import Spec, load_spec

runner = CliRunner()


def _run(*args: str):
    return runner.invoke(app, list(args))


def test_count_json_shape():
    result = _run("count", str(SMALL), "--format", "json", "--set", "width_mult=0.5")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["variant"]["width_mult"] == 0.5 and data["variant"]["module"] == "reduced"
    names = [r["name"] for r in data["rows"]]
    assert names[0] == "convolution (conv1)" and "inception (3a)" in names and names[-2:] == ["linear", "softmax"]
    assert all(isinstance(r["params"], int) and isinstance(r["ops"], int) for r in data["rows"])
    assert data["total"]["params"] == sum(r["params"] for r in data["rows"])
    assert [a["attach"] for a in data["aux"]] == ["4a", "4d"]


def test_count_variant_options():
    naive = json.loads(_run("count", str(SMALL), "--format", "json", "--module", "naive", "--no-aux").stdout)
    reduced = json.loads(_run("count", str(SMALL), "--format", "json").stdout)
    assert naive["variant"]["module"] == "naive" and naive["aux"] == []
    assert naive["total"]["params"] > 5 * reduced["total"]["params"]
    assert any("widths grow" in n for n in naive["notes"])


def test_count_compare_shows_both_kinds():
    result = _run("count", str(SMALL), "--compare")
    assert result.exit_code == 0, result.output
    assert "| inception (3a) |" in result.stdout and "naive vs reduced" in result.stdout
    data = json.loads(_run("count", str(SMALL), "--compare", "--format", "json").stdout)
    t = data["total"]
    assert t["params_ratio"] == t["naive_params"] / t["reduced_params"] > 5


def test_count_table_and_markdown():
    result = _run("count", str(BASE))
    assert result.exit_code == 0
    assert "inception (3a)" in result.stdout and "K = 1024" in result.stdout and "separable" in result.stdout
    md = _run("count", str(BASE), "--format", "markdown").stdout
    assert md.startswith("# Parameters and multiply-adds: googlenet") and "| inception (5b) |" in md


def test_bad_options_get_one_line(tmp_path):
    cases = [
        (["count", "--set", "layers.4e.5x5=-3"], "layers[11] (id 4e).5x5"),
        (["count", "--set", "nosuchfield=1"], "unknown field 'nosuchfield'"),
        (["count", "--set", "width_mult"], "expected KEY=VALUE"),
        (["count", str(tmp_path / "none.yaml")], "none.yaml: spec file not found"),
    ]
    for args, expect in cases:
        result = _run(*args)
        assert result.exit_code == 2, (args, result.output)
        assert result.stderr.startswith("error: ") and expect in result.stderr, result.stderr
        assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.output

    # Click's own usage errors: one line too, naming the option (a bad choice as `--option value:`, as the
    # commands' own errors say it) and the command's --help
    for args, expect in [
        (
            ["count", "--module", "sideways"],
            "--module sideways: is not one of 'reduced', 'naive'",
        ),
        (["train", "--progress", "loud"], "--progress loud: is not one of"),
        (["train", "--epochs", "abc"], "Invalid value for '--epochs'"),
        (["train", "--nosuch"], "No such option: --nosuch"),
        (["export"], "Missing argument 'checkpoint'"),
        (["nosuchcommand"], "No such command 'nosuchcommand'"),
    ]:
        result = _run(*args)
        assert result.exit_code == 2 and result.stderr.startswith("error: " + expect), (args, result.output)
        assert len(result.stderr.strip().splitlines()) == 1 and result.stderr.rstrip().endswith("--help`)")
    bare = _run()  # no arguments: the help, and no error line
    assert bare.stderr == "" and "Usage: " in bare.stdout and "count" in bare.stdout


def test_an_interrupt_says_how_to_go_on(monkeypatch):
    # Ctrl-C: exit 130 and one line; train is continued with --resume, other commands have nothing to continue
    from inception_bench.run import lr_find, train

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(train, "train", interrupted)
    monkeypatch.setattr(lr_find, "lr_find", interrupted)
    result = _run("train", str(SMALL), *TINY_CLI, "--out", "never-written")
    assert result.exit_code == 130 and result.stderr == (
        "error: interrupted; add --resume to the same command to continue from the last finished epoch\n"
    )
    result = _run("lr-find", str(SMALL), "--data", "synthetic", "--steps", "5")
    assert result.exit_code == 130 and result.stderr == "error: interrupted\n", result.output


def test_output_file_is_written_atomically_and_errors_keep_old_file(tmp_path):
    out = tmp_path / "count.csv"
    assert _run("count", str(SMALL), "--format", "csv", "--output", str(out)).exit_code == 0
    before = out.read_text()
    assert before.startswith("id,name,type,output")
    bad = _run("count", str(SMALL), "--format", "csv", "--output", str(out), "--set", "width_mult=-1")
    assert bad.exit_code == 2 and out.read_text() == before
    assert [p.name for p in tmp_path.iterdir()] == ["count.csv"]  # no temp files left behind


def test_real_subprocess_and_help_without_torch():
    script = Path(sys.executable).parent / "ibench"  # the installed console script
    command = [str(script)] if script.exists() else [sys.executable, "-m", "inception_bench"]
    result = subprocess.run(
        [*command, "count", str(SMALL), "--format", "csv"], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0].startswith("id,name,type")
    code = (
        "import sys\nfrom typer.testing import CliRunner\nfrom inception_bench.cli import app\n"
        "r = CliRunner().invoke(app, ['--help']); assert r.exit_code == 0\n"
        "r = CliRunner().invoke(app, ['count', '--help']); assert r.exit_code == 0\n"
        "r = CliRunner().invoke(app, ['count', '--set', 'x']); assert r.exit_code == 2\n"
        "print('torch' in sys.modules)"
    )
    probe = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert probe.stdout.strip() == "False", probe.stdout + probe.stderr


# ----------------------------------------------------------------------------------------------- fuzzing
BASE_RAW = yaml.safe_load(BASE.read_text())
values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 300),
    st.floats(-2, 10),
    st.just(float("nan")),
    st.text(max_size=8),
    st.lists(st.integers(-1, 5), max_size=3),
    st.sampled_from(["4a", "naive", "3x3/2", "9K"]),
    st.dictionaries(st.text(max_size=4), st.integers(), max_size=2),
)


@st.composite
def mutated_specs(draw):
    raw = yaml.safe_load(BASE.read_text())
    for _ in range(draw(st.integers(1, 3))):
        where = draw(st.sampled_from(["top", "aux", "row"]))
        target = raw
        if where == "aux" and isinstance(raw.get("aux"), dict):
            target = raw["aux"]
        elif where == "row" and isinstance(raw.get("layers"), list) and raw["layers"]:
            row = raw["layers"][draw(st.integers(0, len(raw["layers"]) - 1))]
            target = row if isinstance(row, dict) else raw
        key = draw(st.sampled_from([*target.keys(), "extra"]))
        if draw(st.booleans()) and key in target:
            del target[key]
        else:
            target[key] = draw(values)
    return raw


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=mutated_specs())
def test_fuzzed_specs_load_or_fail_cleanly(raw, tmp_path_factory):
    path = tmp_path_factory.mktemp("fuzz") / "spec.yaml"
    path.write_text(yaml.safe_dump(raw))
    try:
        assert isinstance(load_spec(path).spec, Spec)
    except SpecError as e:
        assert str(e).startswith(str(path)) and "\n" not in str(e)


@settings(max_examples=150, deadline=None)
@given(text=st.text(max_size=200))
def test_fuzzed_yaml_text_fails_cleanly(text, tmp_path_factory):
    path = tmp_path_factory.mktemp("fuzz") / "spec.yaml"
    path.write_text(BASE.read_text()[: len(text)] + text)
    try:
        load_spec(path)
    except SpecError as e:
        assert "\n" not in str(e)


@settings(max_examples=12, deadline=None)
@given(raw=mutated_specs(), small=st.booleans())
def test_fuzzed_specs_through_the_cli(raw, small, tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli")
    path = folder / "spec.yaml"
    if small:  # a derived spec: the mutation lands in the overrides of a 32x32 variant (fast to count)
        path.write_text(yaml.safe_dump({"base": str(SMALL), "overrides": {"width_mult": 0.25}, **raw}))
    else:
        path.write_text(yaml.safe_dump(raw))
    result = runner.invoke(app, ["count", str(path), "--format", "json"])
    assert result.exit_code in (0, 2), result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    if result.exit_code == 2:
        assert result.stderr.startswith("error: ") and len(result.stderr.strip().splitlines()) == 1
    else:
        json.loads(result.stdout)


def test_unwritable_outputs_and_rgb_only(tmp_path):
    blocker = tmp_path / "afile"
    blocker.write_text("not a folder")
    result = _run("count", str(SMALL), "--format", "csv", "--output", str(blocker / "x.csv"))
    assert result.exit_code == 2 and "cannot write here" in result.stderr and "Traceback" not in result.output
    result = _run(
        "train",
        str(SMALL),
        *TINY_CLI,
        "--out",
        str(blocker),
    )
    assert result.exit_code == 2 and "afile" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    result = _run("count", "--set", "in_channels=1", "--set", "transform_input=true")
    assert result.exit_code == 2 and "transform_input" in result.stderr
    result = _run("train", str(SMALL), "--set", "in_channels=1", "--out", str(tmp_path / "g"))
    assert result.exit_code == 2 and "RGB" in result.stderr
