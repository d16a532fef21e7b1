"""``ibench ablate --backend ray`` against a real Ray instance on this machine: a head started on 127.0.0.1 with two
CPUs by the fixture (``ray start``, stopped afterwards), tiny widths on synthetic data."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import pytest
from conftest import ROOT, SMALL, invoke_ablate, write_ablation

from inception_bench.store import RunFolder

NO_RAY = "Ray is not installed (pip install -e '.[ray]'); the dev extra installs it"

RAY = Path(sys.executable).parent / "ray"
RECIPE = {"epochs": 2, "batch_size": 64, "workers": 0, "device": "cpu", "schedule": "cosine", "precision": "fp32"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _processes_of(temp_dir: str) -> list[int]:
    """The processes of the Ray head that uses ``temp_dir``: those whose command line names it (GCS, raylet) and
    all their descendants (agents and workers, which rename themselves ``ray::...``)."""
    parent, roots = {}, []
    for proc in Path("/proc").iterdir():
        try:
            if not proc.name.isdigit():
                continue
            parent[int(proc.name)] = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
            if temp_dir.encode() in (proc / "cmdline").read_bytes():
                roots.append(int(proc.name))
        except (OSError, IndexError, ValueError):
            pass
    found = set(roots)
    while True:
        more = {pid for pid, ppid in parent.items() if ppid in found} - found
        if not more:
            return sorted(found)
        found |= more


def _stop(temp_dir: str) -> None:
    """Stop the head that uses ``temp_dir`` with all its processes, and no other Ray on this machine: ``ray stop``
    would stop them all."""
    pids = _processes_of(temp_dir)  # taken before any dies: orphans would lose their parent
    for signum in (signal.SIGTERM, signal.SIGKILL):
        for pid in pids:
            try:
                os.kill(pid, signum)
            except ProcessLookupError:
                pass
        time.sleep(1.0)


@pytest.fixture(scope="module")
def head():
    """A Ray head on this machine (2 CPUs, no dashboard, its own temp folder and ports); its address. Stopped, with
    its workers, afterwards. Token authentication is off, said explicitly for the head and the drivers: Ray turns it
    on for `ray start` when ~/.ray/auth_token exists, and a driver process reads the mode once, when Ray is imported,
    so an in-process driver could not follow a token head (a user's driver sets RAY_AUTH_MODE=token before it starts;
    that case was checked by hand)."""
    pytest.importorskip("ray", reason=NO_RAY)
    auth = {"RAY_AUTH_MODE": "disabled"}
    temp_dir = tempfile.mkdtemp(prefix="rt", dir="/tmp")  # short: Ray's socket paths live under it
    ports = {
        name: _free_port()
        for name in (
            "port",
            "node-manager-port",
            "object-manager-port",
            "runtime-env-agent-port",
            "metrics-export-port",
            "dashboard-agent-listen-port",
            "dashboard-agent-grpc-port",
        )
    }
    command = [
        str(RAY),
        "start",
        "--head",
        "--node-ip-address=127.0.0.1",
        "--num-cpus=2",
        "--num-gpus=0",
        "--include-dashboard=false",
        "--disable-usage-stats",
        f"--temp-dir={temp_dir}",
    ]
    command += [f"--{name}={port}" for name, port in ports.items()]
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", **auth}
    started = subprocess.run(command, env=env, capture_output=True, text=True)
    try:
        if started.returncode != 0:
            pytest.fail(f"ray start failed: {started.stderr[-2000:]}")
        with pytest.MonkeyPatch.context() as patch:
            for name, value in auth.items():
                patch.setenv(name, value)
            yield f"127.0.0.1:{ports['port']}"
    finally:
        _stop(temp_dir)
        shutil.rmtree(temp_dir, ignore_errors=True)


def _ablation(tmp_path: Path, name: str = "r", **changes) -> Path:
    raw = {
        "name": name,
        "spec": str(SMALL),
        "data": "synthetic",
        "recipe": dict(RECIPE),
        "seeds": [0, 1],
        "set": {"width_mult": 0.125},
        "grid": {"module": ["reduced", "naive"]},
    }
    return write_ablation(tmp_path, {**raw, **changes})


_ablate = invoke_ablate


def test_a_grid_on_ray_gives_the_local_backends_results(head, tmp_path, monkeypatch):
    path = _ablation(tmp_path, seeds=[0], variants=[{"name": "diverge", "recipe": {"lr": 1.0e12}}])  # fails training
    on_ray = _ablate(path, "--backend", "ray", "--ray-address", head, "--out", tmp_path / "ray")
    assert on_ray.exit_code == 1, on_ray.output
    assert "2/3 runs completed (3 run now" in on_ray.stdout and "diverge seed 0: diverged" in on_ray.stderr
    # the local backend at the same threads per run (one: 2 CPUs / 2 jobs): the same runs, the same accuracies
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    local = _ablate(path, "--jobs", "2", "--out", tmp_path / "local")
    assert local.exit_code == 1, local.output
    a = pd.read_csv(tmp_path / "ray" / "results.csv").sort_values(["variant", "seed"]).reset_index(drop=True)
    b = pd.read_csv(tmp_path / "local" / "results.csv").sort_values(["variant", "seed"]).reset_index(drop=True)
    columns = ["variant", "seed", "status", "val_top1", "val_top5", "test_top1", "test_top5", "params", "ops"]
    pd.testing.assert_frame_equal(a[columns], b[columns])
    assert list(a["attempts"]) == [1] * 3 and "attempts" not in b.columns
    for row in a.itertuples():
        attempts = RunFolder(tmp_path / "ray" / row.run_dir).read_attempts()
        assert attempts[0]["node"] == socket.gethostname() and attempts[0]["pid"] != os.getpid()  # a Ray worker
    again = _ablate(path, "--backend", "ray", "--ray-address", head, "--out", tmp_path / "ray")
    assert again.exit_code == 1 and "(0 run now" in again.stdout  # the diverged runs stay so, unless asked


def _driver(path: Path, out: Path, head: str, *options: str) -> subprocess.Popen:
    """``ibench ablate PATH --backend ray`` in a process of its own, as a user starts it."""
    command = [sys.executable, "-m", "inception_bench", "ablate", str(path), "--backend", "ray"]
    command += ["--ray-address", head, "--out", str(out), *options]
    return subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _after_first_epoch(folder: RunFolder, driver: subprocess.Popen) -> dict:
    """Wait until the run's first epoch is done and checkpointed, the run still training; that epoch's metrics."""
    deadline = time.time() + 300
    while time.time() < deadline and not folder.read_metrics():
        assert driver.poll() is None, driver.communicate()
        time.sleep(0.05)
    assert not folder.has_record()  # still training
    return folder.read_metrics()[0]


def _one_run_trained_an_epoch(tmp_path: Path, head: str, name: str, *options: str):
    """One 4-epoch run started by a driver process (with ``options``), its first epoch checkpointed: the ablation
    file, the folder, the driver, the run's folder and that epoch's metrics."""
    path = _ablation(tmp_path, name, seeds=[0], grid={"module": ["reduced"]}, recipe={**RECIPE, "epochs": 4})
    out = tmp_path / "out"
    driver = _driver(path, out, head, *options)
    folder = RunFolder(out / "module-reduced" / "seed-0")
    return path, out, driver, folder, _after_first_epoch(folder, driver)


def _resumed(folder: RunFolder, first_epoch: dict, epochs: int = 4) -> None:
    """The run completed, continued from its checkpoint: the first epoch's metrics are the ones written before."""
    rows = folder.read_metrics()
    assert [r["epoch"] for r in rows] == list(range(1, epochs + 1)) and rows[0] == first_epoch
    assert folder.read_record().status == "completed"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_a_run_whose_worker_is_killed_is_retried_from_its_checkpoint(head, tmp_path):
    path, out, driver, folder, first_epoch = _one_run_trained_an_epoch(tmp_path, head, "k")
    os.kill(folder.read_attempts()[-1]["pid"], signal.SIGKILL)  # the Ray worker training the run
    stdout, stderr = driver.communicate(timeout=300)
    assert driver.returncode == 0, stderr
    assert "1/1 runs completed" in stdout
    attempts = folder.read_attempts()
    assert len(attempts) == 2 and attempts[0]["pid"] != attempts[1]["pid"]
    _resumed(folder, first_epoch)
    assert pd.read_csv(out / "results.csv")["attempts"].tolist() == [2]
    again = _driver(path, out, head)
    stdout, _ = again.communicate(timeout=120)
    assert again.returncode == 0 and "(0 run now" in stdout and len(folder.read_attempts()) == 2


def test_when_the_retries_are_spent_the_run_fails_and_retry_failed_resumes_it(head, tmp_path):
    path, out, driver, folder, first_epoch = _one_run_trained_an_epoch(tmp_path, head, "f", "--max-retries", "0")
    os.kill(folder.read_attempts()[-1]["pid"], signal.SIGKILL)
    stdout, stderr = driver.communicate(timeout=300)
    assert driver.returncode == 1, stdout + stderr
    record = folder.read_record()
    assert record.status == "failed" and "its worker died" in record.message and "--max-retries 0" in record.message
    assert pd.read_csv(out / "results.csv")["status"].tolist() == ["failed"]
    plain = _driver(path, out, head)  # a failed run stays failed unless asked
    stdout, _ = plain.communicate(timeout=120)
    assert "(0 run now" in stdout and folder.read_record().status == "failed"
    retried = _driver(path, out, head, "--retry-failed")
    stdout, stderr = retried.communicate(timeout=300)
    assert retried.returncode == 0, stderr
    _resumed(folder, first_epoch)
    assert len(folder.read_attempts()) == 2


def test_ctrl_c_stops_the_runs_and_the_next_command_resumes_them(head, tmp_path):
    path, out, driver, folder, first_epoch = _one_run_trained_an_epoch(tmp_path, head, "c")
    worker = folder.read_attempts()[-1]["pid"]
    driver.send_signal(signal.SIGINT)
    stdout, stderr = driver.communicate(timeout=60)
    assert driver.returncode == 130 and "Traceback" not in stderr, stderr
    deadline = time.time() + 30
    while _alive(worker) and time.time() < deadline:  # Ray stops the run's worker
        time.sleep(0.1)
    assert not _alive(worker)
    assert not folder.has_record() and folder.checkpoint_path.is_file()  # partial, its checkpoint kept
    resumed = _driver(path, out, head)
    stdout, stderr = resumed.communicate(timeout=300)
    assert resumed.returncode == 0 and "1/1 runs completed (1 run now" in stdout, stderr
    _resumed(folder, first_epoch)


def test_without_an_address_ray_starts_here_and_jobs_caps_the_runs_at_once(tmp_path):
    """No --ray-address (nor RAY_ADDRESS): a Ray instance of the command's own, stopped at its end; --jobs 1 runs the
    two runs one after the other although the instance has room for two."""
    path = _ablation(tmp_path, "j", seeds=[0])
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
    command = [sys.executable, "-m", "inception_bench", "ablate", str(path), "--backend", "ray", "--jobs", "1"]
    done = subprocess.run([*command, "--out", str(tmp_path / "out")], cwd=ROOT, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "2/2 runs completed (2 run now" in done.stdout
    folders = [RunFolder(tmp_path / "out" / v / "seed-0") for v in ("module-reduced", "module-naive")]
    starts = sorted((f.read_attempts()[0]["started"], f.read_record().wall_seconds) for f in folders)
    (first, wall), (second, _) = starts
    assert second >= first + wall  # the second started after the first had ended (its attempt precedes its training)


def test_without_ray_or_a_cluster_the_error_names_the_option(tmp_path, monkeypatch):
    path = _ablation(tmp_path)
    monkeypatch.setitem(sys.modules, "ray", None)  # as if not installed
    result = _ablate(path, "--backend", "ray", "--out", tmp_path / "o")
    assert result.exit_code == 2 and "--backend ray: needs Ray, which is not installed: pip install" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.output
    assert not (tmp_path / "o").exists()  # refused before anything is written
    monkeypatch.delitem(sys.modules, "ray")
    result = _ablate(path, "--ray-address", "auto", "--out", tmp_path / "o")
    assert result.exit_code == 2 and "--ray-address auto: applies to --backend ray only" in result.stderr
    result = _ablate(path, "--backend", "ray", "--devices", "0", "--out", tmp_path / "o")
    assert result.exit_code == 2 and "--devices 0: with --backend ray, Ray assigns the GPUs" in result.stderr


def test_a_node_that_cannot_see_the_folder_fails_the_run_by_name(head, tmp_path, monkeypatch):
    """Storage not shared, simulated: the task looks for the run folder under another root than the driver's."""
    from inception_bench.ablate import cluster

    real = cluster.train_task

    def elsewhere(run_dir: str, *args) -> tuple[str, str | None]:  # sent by value: workers cannot import this module
        return real(run_dir.replace("/out/", "/not-mounted/"), *args)

    monkeypatch.setattr(cluster, "train_task", elsewhere)
    path = _ablation(tmp_path, "s", seeds=[0], grid={"module": ["reduced"]})
    result = _ablate(path, "--backend", "ray", "--ray-address", head, "--out", tmp_path / "out")
    assert result.exit_code == 1
    assert "not found on node" in result.stderr and "storage every node sees at the same path" in result.stderr
    record = json.loads((tmp_path / "out" / "module-reduced" / "seed-0" / "final.json").read_text())
    assert record["status"] == "failed" and "not-mounted" in record["message"]
