"""The processes of one run: who I am, how I talk to the others, how we agree.

One run on N processes is DistributedDataParallel (torch.distributed): every rank holds the
whole model and draws its own batches; gradients are averaged in backward. The ranks come
from `trainer.devices=N` (seqlab spawns them, seqlab/launch/spawn.py) or from an outside
launcher that sets RANK / WORLD_SIZE / MASTER_ADDR / MASTER_PORT (torchrun, a submitit task).
Everything here is a no-op for a single process, so the Trainer has one code path.
"""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist

from seqlab.errors import SeqlabError


@dataclass(frozen=True)
class DistContext:
    """This process's place in the run."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        """The rank that writes the run folder."""
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world_size > 1


SINGLE = DistContext()


def env_context() -> DistContext | None:
    """The context an outside launcher put in the environment, if any: torchrun's RANK /
    WORLD_SIZE, or a multi-task submitit job (tasks_per_node > 1), whose tasks become the ranks
    of one run (rendezvous on the job's first host, at a port derived from the job id)."""
    if "RANK" not in os.environ and os.environ.get("SUBMITIT_EXECUTOR"):
        _export_submitit_ranks()
    if "RANK" in os.environ and "WORLD_SIZE" in os.environ and int(os.environ["WORLD_SIZE"]) > 1:
        return DistContext(int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"]),
                           int(os.environ.get("LOCAL_RANK", os.environ["RANK"])))
    return None


def _export_submitit_ranks() -> None:
    """torchrun's variables from submitit's job environment (nothing for a one-task job)."""
    import submitit

    job = submitit.JobEnvironment()
    if job.num_tasks < 2:
        return
    digits = "".join(c for c in str(job.job_id) if c.isdigit()) or "0"
    os.environ.update({"RANK": str(job.global_rank), "WORLD_SIZE": str(job.num_tasks),
                       "LOCAL_RANK": str(job.local_rank)})
    os.environ.setdefault("MASTER_ADDR", job.hostnames[0])
    os.environ.setdefault("MASTER_PORT", str(20000 + int(digits[-6:]) % 20000))


def backend_for(device: torch.device, override: str | None) -> str:
    return override or ("nccl" if device.type == "cuda" else "gloo")


def init_process_group(ctx: DistContext, device: torch.device, backend: str | None, timeout_s: float,
                       init_method: str = "env://") -> None:
    """Join the run's process group (no-op for one process or when already joined)."""
    if not ctx.active or dist.is_initialized():
        return
    if device.type == "cuda":
        torch.cuda.set_device(ctx.local_rank)
    timeout = datetime.timedelta(seconds=timeout_s)
    try:
        dist.init_process_group(backend_for(device, backend), init_method=init_method, rank=ctx.rank,
                                world_size=ctx.world_size, timeout=timeout)
    except (RuntimeError, ValueError) as err:
        raise SeqlabError(f"rank {ctx.rank}: could not join the process group ({str(err).splitlines()[0]})") from None
    global _control
    # Per-step agreements (stop?) travel over gloo on the CPU: under NCCL a flag on the GPU
    # would make every step wait for the device.
    _control = dist.new_group(backend="gloo", timeout=timeout) if dist.get_backend() != "gloo" else None


_control = None  # the CPU process group for control flags, when the main one is not gloo


def destroy_process_group(barrier: bool = False) -> None:
    """Leave the group; with `barrier`, only once every rank is done (a rank that tears its
    group down while another still finishes its run can take that one down with it)."""
    if not dist.is_initialized():
        return
    if barrier:
        try:
            dist.barrier(group=_control) if _control is not None else dist.barrier()
        except RuntimeError:
            pass  # a peer is gone: nothing left to wait for
    dist.destroy_process_group()


def _tensor(values: list[float], dtype: torch.dtype) -> torch.Tensor:
    """A tensor where the backend can reduce it: NCCL reduces CUDA tensors, gloo CPU ones."""
    device = torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else None
    return torch.tensor(values, dtype=dtype, device=device)


def all_agree(flag: bool, ctx: DistContext) -> bool:
    """True on every rank when `flag` is true on any rank (a stop request, say)."""
    if not ctx.active:
        return flag
    t = torch.tensor([1.0 if flag else 0.0])
    dist.all_reduce(t, op=dist.ReduceOp.MAX, group=_control)
    return bool(t.item())


def sum_over_ranks(values: list[float], ctx: DistContext) -> list[float]:
    """Element-wise sum of `values` over the ranks (the values themselves for one process)."""
    if not ctx.active:
        return values
    t = _tensor(values, torch.float64)
    dist.all_reduce(t)
    return t.tolist()


def gather_to_main(obj: Any, ctx: DistContext) -> list[Any] | None:
    """Every rank's `obj` on rank 0 (in rank order), None elsewhere."""
    if not ctx.active:
        return [obj]
    out = [None] * ctx.world_size if ctx.is_main else None
    dist.gather_object(obj, out, dst=0)
    return out


def broadcast_from_main(obj: Any, ctx: DistContext) -> Any:
    """Rank 0's `obj` on every rank."""
    if not ctx.active:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]
