"""Trials side by side: each its own `seqlab train` process (forked warm, seqlab/warm_start.py),
a new one as soon as one ends.

The runner keeps `jobs` trial processes going until the study holds `trials` finished trials
(completed or pruned; a failed trial is replaced). Trials the journal shows started but not
finished (the study was stopped or killed) go first, with their own parameters and folders:
they continue from their checkpoints.

Each trial process leads a process group of its own (setsid), so a terminal's Ctrl-C reaches it only
through the runner, once: SIGINT/SIGTERM to the runner are passed on, every trial checkpoints
and stops, and the study can be continued. A trial whose runner dies (kill -9) gets SIGTERM from the
kernel (Linux) and stops the same way; a re-run waits for such a trial to let go of its folder.
"""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass
from typing import Any

from seqlab import warm_start
from seqlab.errors import SeqlabError
from seqlab.runs import CONFIG
from seqlab.search import CONSOLE
from seqlab.search.journal import COUNTED, TrialRecord
from seqlab.search.space import trial_overrides
from seqlab.search.study import Study

POLL_S = 0.2
FAILURES_IN_A_ROW = 3
"""Failed trials in a row that end the study (a config no trial can train with)."""
LOCK_WAIT_S = 120.0
"""How long a continued trial waits for the process of an earlier run to let go of its folder."""
STOPPED = (130, 143, -signal.SIGINT, -signal.SIGTERM)
PRUNED_TRIAL_PRELOAD = ("optuna",)
"""Imported once by the server that forks the trials of a pruned study: each trial asks Optuna's
pruner at its evaluations, and importing optuna costs a new process over a second."""


@dataclass
class Running:
    """A trial and its process (a multiprocessing.Process)."""

    trial: TrialRecord
    process: Any


class Runner:
    """Runs a study's trials until it holds `trials` finished ones, `jobs` at a time."""

    def __init__(self, study: Study, trials: int, jobs: int, say: Any = print) -> None:
        self.study, self.trials, self.jobs, self.say = study, trials, jobs, say
        self.running: dict[int, Running] = {}
        self.signum: int | None = None
        self.failures = 0  # in a row
        self.last_failure: TrialRecord | None = None

    def run(self) -> int | None:
        """Run the study; returns the signal that stopped it, or None when it is done."""
        pending = self._recover()
        previous = {sig: signal.signal(sig, self._forward) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            while True:
                while self._room():
                    self._start(pending.pop(0) if pending else self.study.new_trial())
                if not self.running:
                    break
                time.sleep(POLL_S)
                self._reap()
        except BaseException:  # a trial that cannot be scored: the others stop at their checkpoints
            self._forward(signal.SIGTERM, None)
            for running in self.running.values():
                running.process.join()
            raise
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        if self.failures >= FAILURES_IN_A_ROW and self.last_failure is not None:
            trial = self.last_failure
            raise SeqlabError(f"{self.failures} trials in a row failed, the last ({trial.folder}): {trial.reason} "
                              f"(its output: {self.study.run_folder(trial) / CONSOLE})")
        return self.signum

    def _counted(self) -> int:
        return sum(t.state in COUNTED for t in self.study.trials().values())

    def _room(self) -> bool:
        """Whether another trial starts now."""
        if self.signum is not None or self.failures >= FAILURES_IN_A_ROW or len(self.running) >= self.jobs:
            return False
        return self._counted() + len(self.running) < self.trials

    def _recover(self) -> list[TrialRecord]:
        """Trials started and not finished: those whose run ended are finished now; the others
        are run again (first), in their folders."""
        unfinished = [t for t in self.study.trials().values() if t.state is None]
        pending = []
        for trial in unfinished:
            if self.study.settled(trial):
                self._report(self.study.finish(trial, None))
            else:
                pending.append(trial)
        return pending

    def _start(self, trial: TrialRecord) -> None:
        folder = self.study.run_folder(trial)
        folder.mkdir(exist_ok=True)
        _wait_for_folder(folder)
        preload = PRUNED_TRIAL_PRELOAD if self.study.settings.pruner != "none" else ()
        process = warm_start.seqlab_command(self.study.command(trial), folder / CONSOLE, name=f"trial {trial.number}",
                                            env={**os.environ, "OMP_NUM_THREADS": "1"}, preload=preload)
        process.start()
        self.running[trial.number] = Running(trial, process)
        again = " (continued)" if (folder / CONFIG).exists() else ""
        self.say(f"trial {trial.number} started{again}: {' '.join(trial_overrides(trial.params))} -> {folder}")

    def _reap(self) -> None:
        """Finish the trials whose processes ended."""
        for number, running in list(self.running.items()):
            code = running.process.exitcode
            if code is None:
                continue
            del self.running[number]
            if self.signum is not None and code in STOPPED:
                self.say(f"trial {number} stopped at its checkpoint; it continues when the study does")
                continue
            failure = None if code == 0 else _failure(code, self.study.run_folder(running.trial) / CONSOLE)
            self._report(self.study.finish(running.trial, failure))

    def _report(self, trial: TrialRecord) -> None:
        metric = self.study.settings.metric
        value = "n/a" if trial.value is None else f"{trial.value:.4f}"
        if trial.state == "failed":
            self.failures += 1
            self.last_failure = trial
            self.say(f"trial {trial.number} failed: {trial.reason}")
            return
        self.failures = 0
        if trial.state == "pruned":
            self.say(f"trial {trial.number} pruned at step {trial.steps} of {trial.max_steps}: {metric} {value}")
        else:
            self.say(f"trial {trial.number} completed: {metric} {value} ({trial.steps} steps)")

    def _forward(self, signum: int, frame: Any) -> None:
        """SIGINT/SIGTERM: no new trials; each running one hears it once and stops at its checkpoint."""
        self.signum = self.signum or signum
        for running in self.running.values():
            if running.process.exitcode is None:
                os.kill(running.process.pid, signum)


def _failure(code: int, console) -> str:
    """Why a trial process failed: its last line of output, and its exit code."""
    try:
        lines = [ln for ln in console.read_text(errors="replace").splitlines() if ln.strip()]
    except OSError:
        lines = []
    said = f"{lines[-1].strip()} " if lines else ""
    how = f"killed by signal {-code}" if code < 0 else f"exit code {code}"
    return f"{said}({how})"


def _wait_for_folder(folder) -> None:
    """Wait while another process (a trial of an earlier, killed runner, stopping) holds `folder`."""
    from seqlab.runs.lock import RunBusyError, RunLock

    lock, waited = RunLock(folder), 0.0
    while True:
        try:
            lock.acquire()
        except RunBusyError:
            if waited >= LOCK_WAIT_S:
                raise
            time.sleep(0.5)
            waited += 0.5
            continue
        lock.release()
        return
