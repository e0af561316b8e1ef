"""Issue 20 case 13: the SLURM executor against a real SLURM, not mocks.

As root, where Debian's ``slurm-wlm`` and ``munge`` are installed (``.ci/run`` installs them), the
fixture starts a one-node SLURM on this host in a temporary folder: ``munged`` with a key of its own,
``slurmctld`` and ``slurmd`` on free ports, accounting off (so ``sacct`` fails, as on many small
clusters). It always stops them again, by the pids in their pid files. Elsewhere the test is skipped
and says what is missing.

The test runs ``rlsv sweep figure4`` (3 runs, smoke profile on the tiny corpus) through
``--executor slurm`` with 2 jobs at a time, cancels one job with ``scancel`` once its run has written
its first epoch's checkpoint, and checks that the sweep reports that run as failed (and nothing else),
that no ``sacct`` warning reaches the output, and that rerunning the same command resumes the
cancelled run from its checkpoint while the others are skipped.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pandas as pd
import pytest
import torch

from rlsv.atomic import save_torch
from rlsv.run.lock import LOCK_FILE, read_lock
from rlsv.run.status import read_status

_DAEMONS = ("munged", "slurmctld", "slurmd")
_CLIENTS = ("sbatch", "squeue", "scancel", "sinfo")
_SEARCH_PATH = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])
_START_S, _STOP_S = 60.0, 30.0


def _missing() -> str | None:
    """Why a one-node SLURM cannot be started here (None: it can)."""
    if os.geteuid() != 0:
        return "not root: the one-node SLURM (munged, slurmctld, slurmd) is started as root"
    missing = [name for name in (*_DAEMONS, *_CLIENTS) if shutil.which(name, path=_SEARCH_PATH) is None]
    if missing:
        return (f"{', '.join(missing)} not found: install Debian's slurm-wlm and munge as root "
                "(apt-get install slurm-wlm munge; .ci/run does)")
    return None


def _free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


@dataclass(frozen=True)
class OneNodeSlurm:
    """A running one-node SLURM: its folder, partition, and the environment its clients need (``SLURM_CONF``)."""

    folder: Path
    partition: str
    environment: dict[str, str]

    def run(self, *command: str, timeout: float = 60) -> subprocess.CompletedProcess:
        return subprocess.run(list(command), env=self.environment, capture_output=True, text=True, timeout=timeout)

    def queue(self) -> list[str]:
        """The jobs of the partition that have not ended."""
        answer = self.run("squeue", "--noheader", "--array", f"--partition={self.partition}", "--format=%i %T")
        return answer.stdout.split("\n")[:-1] if answer.returncode == 0 else ["squeue failed: " + answer.stderr]

    def logs(self) -> str:
        return "\n".join(f"--- {p.name}\n" + p.read_text(errors="replace")[-1500:]
                         for p in sorted(self.folder.glob("*.log")))


def _configuration(folder: Path, node: str, partition: str) -> str:
    ctld_port, d_port = _free_ports(2)
    return f"""\
ClusterName=rlsvtest
SlurmctldHost={node}(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={folder}/munge.socket
SlurmctldPort={ctld_port}
SlurmdPort={d_port}
StateSaveLocation={folder}/state
SlurmdSpoolDir={folder}/spool
SlurmctldPidFile={folder}/slurmctld.pid
SlurmdPidFile={folder}/slurmd.pid
SlurmctldLogFile={folder}/slurmctld.log
SlurmdLogFile={folder}/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
MpiDefault=none
ReturnToService=2
KillWait=0
NodeName={node} NodeAddr=127.0.0.1 CPUs=2 RealMemory=2048 State=UNKNOWN
PartitionName={partition} Nodes={node} Default=YES MaxTime=INFINITE State=UP
"""


def _stop(pid_file: Path) -> None:
    """End the daemon whose pid is in ``pid_file`` (SIGTERM, then SIGKILL after a while)."""
    try:
        pid = int(pid_file.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return
    for sig, wait_s in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.1)


@pytest.fixture(scope="module")
def slurm() -> Iterator[OneNodeSlurm]:
    why = _missing()
    if why:
        pytest.skip(f"no real SLURM: {why}")
    # munged wants every folder above its socket searchable by all: not pytest's (0700), a folder of /tmp's
    folder = Path(tempfile.mkdtemp(prefix="rlsv-slurm-"))
    folder.chmod(0o755)
    for sub in ("state", "spool"):
        (folder / sub).mkdir()
    node, partition = socket.gethostname().split(".")[0], "rlsvtest"
    (folder / "slurm.conf").write_text(_configuration(folder, node, partition))
    key = folder / "munge.key"
    key.write_bytes(os.urandom(1024))
    key.chmod(0o600)
    cluster = OneNodeSlurm(folder, partition, {**os.environ, "SLURM_CONF": str(folder / "slurm.conf")})
    which = {name: shutil.which(name, path=_SEARCH_PATH) for name in (*_DAEMONS, *_CLIENTS)}
    try:
        for command in ([which["munged"], f"--key-file={key}", f"--socket={folder}/munge.socket",
                         f"--pid-file={folder}/munged.pid", f"--log-file={folder}/munged.log",
                         f"--seed-file={folder}/munged.seed"],
                        [which["slurmctld"], "-f", str(folder / "slurm.conf")],
                        [which["slurmd"], "-f", str(folder / "slurm.conf"), "-N", node]):
            started = cluster.run(*command)
            assert started.returncode == 0, f"{command[0]}: {started.stderr}\n{cluster.logs()}"
        deadline = time.monotonic() + _START_S
        while cluster.run("sinfo", "--noheader", f"--partition={partition}", "--format=%t").stdout.strip() != "idle":
            assert time.monotonic() < deadline, f"the node did not become idle in {_START_S} s\n{cluster.logs()}"
            time.sleep(0.5)
        yield cluster
    finally:
        cluster.run("scancel", f"--partition={partition}")
        deadline = time.monotonic() + _STOP_S
        while cluster.queue() and not cluster.queue()[0].startswith("squeue failed") and time.monotonic() < deadline:
            time.sleep(0.5)
        for daemon in ("slurmd", "slurmctld", "munged"):
            _stop(folder / f"{daemon}.pid")
        shutil.rmtree(folder, ignore_errors=True)


def _sweep_command(slurm: OneNodeSlurm, root: Path, dataset: Path) -> list[str]:
    return [str(Path(sys.executable).with_name("rlsv")), "sweep", "figure4", "--profile", "smoke", "--engine", "inline",
            "--executor", "slurm", "--partition", slurm.partition, "--gpus-per-job", "0", "--cpus-per-job", "1",
            "--mem-gb", "1", "--time", "10", "--jobs", "2", "--runs-root", str(root), "--dataset", str(dataset),
            "--epochs", "3", "--quiet"]


def _run_with_a_checkpoint(root: Path, sweep: subprocess.Popen, timeout_s: float = 150.0) -> tuple[Path, str]:
    """The first run folder holding its first epoch's checkpoint under the lock of a SLURM job, and that job."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert sweep.poll() is None, "the sweep ended before any run had a checkpoint"
        for run_dir in sorted(root.glob("smoke-*")) if root.is_dir() else ():
            holder = read_lock(run_dir)
            if (run_dir / "checkpoint.pt").is_file() and holder is not None and holder.job:
                return run_dir, holder.job
        time.sleep(0.05)
    raise AssertionError(f"no run had a checkpoint within {timeout_s} s")


def test_a_cancelled_slurm_job_is_recovered_by_rerunning_the_sweep(slurm: OneNodeSlurm, tiny_corpus: Path,
                                                                   tmp_path: Path) -> None:
    root = tmp_path / "runs"
    command = _sweep_command(slurm, root, tiny_corpus)
    out, err = tmp_path / "sweep.out", tmp_path / "sweep.err"
    with open(out, "w") as stdout, open(err, "w") as stderr:
        sweep = subprocess.Popen(command, env=slurm.environment, stdout=stdout, stderr=stderr, text=True)
        try:
            victim, job = _run_with_a_checkpoint(root, sweep)
            cancelled = slurm.run("scancel", job)
            assert cancelled.returncode == 0, cancelled.stderr
            assert sweep.wait(180) == 1, out.read_text() + err.read_text()
        finally:
            sweep.kill()
            sweep.wait()
    report, noise = out.read_text(), err.read_text()
    assert "3 runs in" in report and "2 done, 1 failed" in report, report + noise
    failed = next(line for line in report.splitlines() if line.startswith("  FAILED "))
    assert failed.startswith(f"  FAILED {victim.name}: SLURM job {job} ended CANCELLED without a result"), failed
    assert "sacct" not in (report + noise).lower(), noise  # accounting is off: no warning per poll
    checkpoint = torch.load(victim / "checkpoint.pt", weights_only=False)
    assert checkpoint["epoch"] < 3 and not (victim / "model.pt").exists(), "cancelled after the run had finished"
    assert read_status(victim)["state"] == "failed" and not (victim / LOCK_FILE).exists()
    checkpoint["history"][0][4] = 123.0  # the loss of step 1, only in the checkpoint: shows that the rerun resumes
    save_torch(checkpoint, victim / "checkpoint.pt")

    rerun = subprocess.run(command, env=slurm.environment, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert "3 runs in" in rerun.stdout and "1 done, 2 skipped" in rerun.stdout, rerun.stdout
    assert "sacct" not in (rerun.stdout + rerun.stderr).lower(), rerun.stderr
    losses = pd.read_csv(victim / "losses.csv")
    assert losses.loc[0, "loss"] == 123.0 and losses["epoch"].max() == 3  # resumed, all epochs, nothing lost
    for run_dir in sorted(root.glob("smoke-*")):
        assert read_status(run_dir)["state"] == "done", run_dir.name
        assert (run_dir / "model.pt").is_file() and (run_dir / "summary.json").is_file()
        assert not (run_dir / LOCK_FILE).exists()
    assert len(list(root.glob("smoke-*"))) == 3
    deadline = time.monotonic() + _STOP_S  # a job that returned its result may take a moment to leave the queue
    while slurm.queue() and time.monotonic() < deadline:
        time.sleep(0.5)
    assert slurm.queue() == []
