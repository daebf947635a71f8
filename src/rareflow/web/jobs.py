"""Ensembles as background jobs, on the command line's own code path.

A job runs ``python -m rareflow run SCENARIO --runs N --seed S --store STORE --json`` in its own
process group: the same Dask ensemble, store and validation as ``rareflow run``. Its progress is
read from the ``stored run k/N`` lines the command writes, its ensemble id from its JSON. Each
job is a JSON file in its tenant's workspace, rewritten on every change, so:

- a job survives a server restart: jobs found queued or running at start are started again
  with ``--resume``, which keeps every run already in the store;
- a killed worker or job process fails that job with the command's last error lines, never the
  server;
- a job is cancelled by ending its process group.

A tenant's jobs write to the tenant's store one at a time (a store has one writer); at most
``Limits.running_jobs`` run at once over all tenants, the rest wait in order.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rareflow.web.settings import Settings
from rareflow.web.workspace import Workspace, WorkspaceError

TERMINAL = ("done", "failed", "cancelled")
TAIL = 12
"""Last lines of a failed job's error output kept in its record."""


@dataclass
class Job:
    id: str
    tenant: str
    scenario: str
    runs: int
    seed: int
    state: str = "queued"
    done_runs: int = 0
    ensemble: int | None = None
    error: str | None = None
    created: float = field(default_factory=time.time)
    started: float | None = None
    finished: float | None = None
    pid: int | None = None
    restarts: int = 0
    detail: bool = False
    """Store trajectories by country, facility and lane too (``rareflow run --detail``)."""

    def public(self) -> dict[str, Any]:
        """What clients see (no process id)."""
        record = asdict(self)
        record.pop("pid")
        record["progress"] = self.done_runs / self.runs if self.runs else 0.0
        return record


class JobError(ValueError):
    """A job request that cannot be accepted; the message says why."""


class Jobs:
    """The job table of every tenant, a scheduler thread and one watcher thread per job."""

    def __init__(self, settings: Settings, workspace: Callable[[str], Workspace]) -> None:
        self.settings = settings
        self.workspace = workspace
        self.lock = threading.RLock()
        self.jobs: dict[str, Job] = {}
        self.processes: dict[str, subprocess.Popen[str]] = {}
        self.wake = threading.Event()
        self.stopping = False
        self._recover()
        self.thread = threading.Thread(target=self._schedule, name="jobs", daemon=True)
        self.thread.start()

    # --- requests -------------------------------------------------------------------------------

    def submit(self, tenant: str, scenario: str, runs: int, seed: int, detail: bool = False) -> Job:
        limits = self.settings.limits
        if not 1 <= runs <= limits.runs_per_job:
            raise JobError(f"runs: {runs} is outside 1..{limits.runs_per_job}")
        if not 0 <= seed < 2**32:
            raise JobError(f"seed: {seed} is outside 0..4294967295")
        self.workspace(tenant).scenario_path(scenario)  # raises WorkspaceError if unknown
        with self.lock:
            waiting = [j for j in self.jobs.values() if j.tenant == tenant and j.state == "queued"]
            if len(waiting) >= limits.queued_jobs_per_tenant:
                raise JobError(
                    f"{len(waiting)} of your jobs are already waiting (limit "
                    f"{limits.queued_jobs_per_tenant}); wait or cancel one"
                )
            job = Job(uuid.uuid4().hex[:12], tenant, scenario, runs, seed, detail=detail)
            self.jobs[job.id] = job
            self._save(job)
        self.wake.set()
        return job

    def get(self, tenant: str, job_id: str) -> Job:
        with self.lock:
            job = self.jobs.get(job_id)
            if job is None or job.tenant != tenant:  # another tenant's job does not exist
                raise KeyError(job_id)
            return job

    def of(self, tenant: str) -> list[Job]:
        with self.lock:
            return sorted(
                (j for j in self.jobs.values() if j.tenant == tenant), key=lambda j: j.created
            )

    def cancel(self, tenant: str, job_id: str) -> Job:
        job = self.get(tenant, job_id)
        with self.lock:
            if job.state in TERMINAL:
                return job
            process = self.processes.get(job.id)
            job.state, job.finished = "cancelled", time.time()
            self._save(job)
        if process is not None:
            _end(process.pid)
        return job

    def shutdown(self) -> None:
        """Stop scheduling; running job processes are ended and stay 'running' on disk, so the
        next start resumes them."""
        self.stopping = True
        self.wake.set()
        with self.lock:
            for process in self.processes.values():
                _end(process.pid)

    # --- scheduling -----------------------------------------------------------------------------

    def _schedule(self) -> None:
        while not self.stopping:
            self.wake.wait(1.0)
            self.wake.clear()
            with self.lock:
                running = [j for j in self.jobs.values() if j.state == "running"]
                busy = {j.tenant for j in running}
                for job in sorted(self.jobs.values(), key=lambda j: j.created):
                    if len(running) >= self.settings.limits.running_jobs or self.stopping:
                        break
                    if job.state == "queued" and job.tenant not in busy:
                        self._start(job)
                        running.append(job)
                        busy.add(job.tenant)

    def _start(self, job: Job) -> None:
        space = self.workspace(job.tenant)
        try:
            path = space.scenario_path(job.scenario)
        except WorkspaceError as error:
            self._finish(job, "failed", str(error))
            return
        command = [
            sys.executable, "-m", "rareflow", "run", str(path) if path else job.scenario,
            "--runs", str(job.runs), "--seed", str(job.seed), "--store", str(space.store),
            "--workers", str(self.settings.limits.workers_per_job), "--json",
        ]  # fmt: skip
        if self.settings.data is not None:
            command += ["--data", str(self.settings.data)]
        if job.detail:
            command.append("--detail")
        if job.started is not None:  # started before: continue the stored ensemble
            command.append("--resume")
            job.restarts += 1
        process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            start_new_session=True, cwd=space.root,
        )  # fmt: skip
        job.state, job.started, job.pid = "running", job.started or time.time(), process.pid
        self.processes[job.id] = process
        self._save(job)
        threading.Thread(target=self._watch, args=(job, process), daemon=True).start()

    def _watch(self, job: Job, process: subprocess.Popen[str]) -> None:
        tail: list[str] = []
        assert process.stderr is not None and process.stdout is not None
        for line in process.stderr:
            text = line.strip()
            if text.startswith("stored run "):
                done = text.removeprefix("stored run ").split("/")[0]
                with self.lock:
                    job.done_runs = int(done) if done.isdigit() else job.done_runs
                    self._save(job)
            elif text:
                tail = [*tail, text][-TAIL:]
        output = process.stdout.read()
        code = process.wait()
        with self.lock:
            self.processes.pop(job.id, None)
            if job.state != "running" or self.stopping:
                return  # cancelled, or ended by a shutdown to be resumed
            if code == 0:
                try:
                    job.ensemble = int(json.loads(output)["ensemble"])
                except (ValueError, KeyError, TypeError):
                    self._finish(job, "failed", "the run ended without its JSON summary")
                    return
                job.done_runs = job.runs
                self._finish(job, "done", None)
            elif job.restarts and any("nothing to resume" in line for line in tail):
                job.state, job.started, job.pid = "queued", None, None  # died before storing
                self._save(job)
            else:
                reason = "\n".join(tail) or f"the job process ended with code {code}"
                if code < 0:
                    reason = f"the job process was killed (signal {-code}). {reason}"
                self._finish(job, "failed", reason)
        self.wake.set()

    def _finish(self, job: Job, state: str, error: str | None) -> None:
        job.state, job.error, job.finished, job.pid = state, error, time.time(), None
        self._save(job)
        self.wake.set()

    # --- persistence ----------------------------------------------------------------------------

    def _save(self, job: Job) -> None:
        path = self.workspace(job.tenant).jobs / f"{job.id}.json"
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(asdict(job)), encoding="utf-8")
        temporary.replace(path)

    def _recover(self) -> None:
        """Load every tenant's jobs; those left queued or running are queued again (a running
        one resumes from the store), after ending a job process a previous server left."""
        tenants = self.settings.workspace / "tenants"
        for path in sorted(tenants.glob("*/jobs/*.json")) if tenants.is_dir() else []:
            try:
                job = Job(**json.loads(path.read_text(encoding="utf-8")))
            except (OSError, ValueError, TypeError):
                continue  # a damaged record is left on disk, not served
            if job.state == "running":
                if job.pid is not None and _is_job_process(job.pid, path.parent):
                    _end(job.pid)
                job.state, job.pid = "queued", None
            self.jobs[job.id] = job
            if job.state == "queued":
                self._save(job)


def _is_job_process(pid: int, jobs: Path) -> bool:
    """Whether ``pid`` still runs a rareflow job of that workspace (a process id can be reused
    after the server's machine restarts)."""
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        cwd = Path(f"/proc/{pid}/cwd").resolve()
    except OSError:
        return False
    return "rareflow run" in command and cwd == jobs.parent.resolve()


def _end(pid: int) -> None:
    """End a job's process group (its Dask workers included)."""
    try:
        os.killpg(pid, signal.SIGTERM)
    except (ProcessLookupError, PermissionError):
        return
    for _ in range(50):
        try:
            os.killpg(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        return
