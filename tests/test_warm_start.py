"""seqlab's own children, forked warm (seqlab/warm_start.py): each is a process of its own that
takes the environment and working directory of the moment it is started, not the server's."""

from __future__ import annotations

import json
import os
from pathlib import Path

from conftest import wait_for

from seqlab import warm_start


def report(path: str) -> None:
    """In the child: what it sees, written as JSON."""
    import torch

    Path(path).write_text(json.dumps({"pid": os.getpid(), "cwd": os.getcwd(), "mark": os.environ.get("SEQLAB_TEST_MARK"),
                                      "threads": torch.get_num_threads()}))


def run(target, args, env=None) -> int:
    child = warm_start.process(target, args, name="child", env=env)
    child.start()
    child.join(timeout=120)
    assert not child.is_alive(), "the child hung"
    return child.exitcode


def test_a_child_takes_the_environment_and_folder_of_its_start(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert run(report, (str(tmp_path / "first.json"),)) == 0  # the server starts here, if it had not
    (tmp_path / "later").mkdir()
    monkeypatch.chdir(tmp_path / "later")
    monkeypatch.setenv("SEQLAB_TEST_MARK", "set after the server started")
    assert run(report, (str(tmp_path / "second.json"),), env={**os.environ, "OMP_NUM_THREADS": "1"}) == 0
    first, second = (json.loads((tmp_path / f"{n}.json").read_text()) for n in ("first", "second"))
    assert first["pid"] != second["pid"] != os.getpid()
    assert second["cwd"] == str(tmp_path / "later") and second["mark"] == "set after the server started"
    assert second["threads"] == 1


def test_a_seqlab_command_writes_its_console_and_exits_with_its_code(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    console = tmp_path / "console.log"
    listed = warm_start.seqlab_command(["models"], console, name="models")
    listed.start()
    listed.join(timeout=120)
    assert listed.exitcode == 0 and "gru" in console.read_text()
    refused = warm_start.seqlab_command(["train", "model=nope"], console, name="refused")
    refused.start()
    refused.join(timeout=120)
    lines = console.read_text().splitlines()
    assert refused.exitcode == 2 and lines[-1].startswith("error:") and "nope" in lines[-1]


def group_of_a_running_command(tmp_path: Path, own_group: bool) -> tuple[int, int]:
    """(the command's pid, its process group), read while it runs; then it is stopped."""
    console = tmp_path / f"own_group_{own_group}.log"
    command = warm_start.seqlab_command(["train", "task=copy", "trainer.max_steps=1000000", "threads=1"], console,
                                        name="long", own_group=own_group)
    command.start()
    wait_for(lambda: console.exists() or not command.is_alive(), 60)  # the console is opened after setsid
    group = os.getpgid(command.pid)
    command.terminate()
    command.join(timeout=60)
    assert not command.is_alive(), "the command did not stop"
    return command.pid, group


def test_a_command_leads_its_own_process_group_unless_it_stays_in_its_starters(tmp_path, monkeypatch):
    """Trials lead their own group (a terminal's Ctrl-C reaches them through the study); runs of
    `seqlab reproduce` stay in the command's, which the terminal's Ctrl-C reaches."""
    monkeypatch.chdir(tmp_path)
    pid, group = group_of_a_running_command(tmp_path, own_group=True)
    assert group == pid
    pid, group = group_of_a_running_command(tmp_path, own_group=False)
    assert group == os.getpgrp() != pid
