"""Peak FLOP/s of the device a run trains on: the denominator of MFU.

In order: `trainer.peak_flops` if set; a known GPU's datasheet figure (dense, no sparsity);
otherwise a matmul measurement on the device itself (CPU, MPS, unknown GPUs), cached
per device model, thread count and dtype. Never one figure for every device.

A measurement taken while something else loads the machine comes out low and would
inflate every later MFU, so it is the best of several rounds, the cache keeps the best
value ever seen, and an entry older than STALE_DAYS is measured again. The source
string (written to flops.json as peak_source) says how and when.
"""

from __future__ import annotations

import json
import os
import platform
import re
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from seqlab.errors import SeqlabError

# (name pattern, label, bf16/fp16 tensor, tf32 tensor, fp32) in TFLOP/s, dense. V100/T4: fp16 (no bf16).
# More specific patterns first: "H100 PCIe" before "H100", "L40S" before "L4".
GPU_PEAKS: list[tuple[str, str, float, float | None, float]] = [
    (r"GH200", "GH200", 989.4, 494.7, 67.0),
    (r"H200 NVL", "H200 NVL", 835.0, 417.5, 60.0),
    (r"H200", "H200 SXM", 989.4, 494.7, 67.0),
    (r"H100 NVL", "H100 NVL", 835.0, 417.5, 60.0),
    (r"H100 PCIe", "H100 PCIe", 756.0, 378.0, 51.2),
    (r"H100", "H100 SXM", 989.4, 494.7, 66.9),
    (r"A100", "A100", 312.0, 156.0, 19.5),
    (r"L40S", "L40S", 362.1, 183.0, 91.6),
    (r"L40\b", "L40", 181.0, 90.5, 90.5),
    (r"\bL4\b", "L4", 121.0, 60.0, 30.3),
    (r"\bA10\b", "A10", 125.0, 62.5, 31.2),
    (r"RTX 4090", "RTX 4090", 165.2, 82.6, 82.6),
    (r"RTX 3090", "RTX 3090", 71.0, 35.6, 35.6),
    (r"RTX A6000", "RTX A6000", 154.8, 77.4, 38.7),
    (r"V100", "V100", 125.0, None, 15.7),
    (r"\bT4\b", "T4", 65.0, None, 8.1),
]


def _precision(dtype: Any) -> str:
    """bf16 (also fp16), tf32 (fp32 matmuls allowed to use TF32) or fp32."""
    import torch

    if dtype in (torch.bfloat16, torch.float16, "bf16", "fp16", "bfloat16", "float16"):
        return "bf16"
    if torch.get_float32_matmul_precision() != "highest":  # "high"/"medium": TF32 tensor cores
        return "tf32"
    return "fp32"


def known_gpu_peak(name: str, precision: str) -> tuple[float, str] | None:
    """The datasheet peak of a GPU called `name` (torch.cuda.get_device_name), if it is in the table."""
    for pattern, label, bf16, tf32, fp32 in GPU_PEAKS:
        if re.search(pattern, name):
            value = {"bf16": bf16, "tf32": tf32 or fp32, "fp32": fp32}[precision]
            kind = "bf16/fp16" if precision == "bf16" else precision
            return value * 1e12, f"{label} datasheet, {kind} dense ({value:g} TFLOP/s)"
    return None


STALE_DAYS = 7
ROUNDS = 3
CACHE_NAME = "peak_flops_v2.json"  # entries with a date; v1 (peak_flops.json) held bare numbers


def _cache_file() -> Path:
    return Path(os.environ.get("SEQLAB_CACHE") or "~/.cache/seqlab").expanduser() / CACHE_NAME


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "cpu"


def measure_matmul_peak(device: Any, dtype: Any = None, budget_s: float = 1.5) -> float:
    """Best FLOP/s of a few square matmuls (1024, then 2048) within about `budget_s` seconds."""
    import torch

    dev = torch.device(device)
    dtype = dtype or torch.float32
    sync = (torch.cuda.synchronize if dev.type == "cuda" else
            torch.mps.synchronize if dev.type == "mps" else (lambda: None))
    # Its own random stream: measuring the peak (a run's first, before the cache has it) must not
    # move the run's (dropout, sampling), or that run would differ from every later one.
    gen = torch.Generator(device=dev).manual_seed(0)
    best, start = 0.0, time.perf_counter()
    for n, reps in ((1024, 5), (2048, 3)):
        a, b = (torch.randn(n, n, device=dev, dtype=dtype, generator=gen) for _ in range(2))
        a @ b  # warm-up: first call pays for allocation and kernel selection
        sync()
        for _ in range(reps):
            t0 = time.perf_counter()
            a @ b
            sync()
            best = max(best, 2 * n**3 / max(time.perf_counter() - t0, 1e-9))
            if time.perf_counter() - start > budget_s:
                return best
    return best


def _measure_rounds(device: Any, dtype: Any) -> float:
    """Best of ROUNDS short measurements with a pause between: a burst of load elsewhere
    spoils one round, rarely all."""
    best = 0.0
    for i in range(ROUNDS):
        if i:
            time.sleep(0.05)
        best = max(best, measure_matmul_peak(device, dtype, budget_s=0.6))
    return best


def _fresh(entry: Any) -> bool:
    try:
        age = datetime.now(timezone.utc) - datetime.fromisoformat(entry["measured_at"])
    except (TypeError, KeyError, ValueError):
        return False  # an old-format or damaged entry: measure again
    return age.days < STALE_DAYS


def _measured_cached(device: Any, key: str, precision: str) -> tuple[float, str]:
    import torch

    path = _cache_file()
    try:
        cache = json.loads(path.read_text())
    except (OSError, ValueError):
        cache = {}
    entry = cache.get(key)
    how = f"best of {ROUNDS} rounds of 1024/2048 matmuls"
    if _fresh(entry):
        return float(entry["value"]), f"measured matmul peak of {key} on {entry['measured_at']} ({how}; cached in {path})"
    value = _measure_rounds(device, torch.bfloat16 if precision == "bf16" else torch.float32)
    if isinstance(entry, dict) and isinstance(entry.get("value"), int | float):
        value = max(value, float(entry["value"]))  # a busy machine only ever measures low
    stamp = datetime.now(timezone.utc).isoformat(timespec="seconds")
    cache[key] = {"value": value, "measured_at": stamp, "method": how}
    try:  # a read-only home is no reason to fail a run
        from seqlab.runs.atomic import atomic_write_json

        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_json(path, cache)
    except OSError:
        pass
    return value, f"measured matmul peak of {key} on {stamp} ({how})"


def peak_flops(device: Any, override: float | None = None, dtype: Any = None) -> tuple[float, str]:
    """(peak FLOP/s, how it was obtained) for training on `device` with matmuls in `dtype`
    (default float32; bf16/fp16 use the tensor-core figure)."""
    if override is not None:
        if not override > 0:
            raise SeqlabError(f"trainer.peak_flops must be positive, got {override}")
        return float(override), "trainer.peak_flops"
    import torch

    dev = torch.device(device)
    precision = _precision(dtype)
    if dev.type == "cuda":
        name = torch.cuda.get_device_name(dev)
        known = known_gpu_peak(name, precision)
        if known is not None:
            return known
        return _measured_cached(dev, f"{name} {precision}", precision)
    if dev.type == "mps":
        return _measured_cached(dev, f"mps {platform.machine()} {precision}", precision)
    precision = "bf16" if precision == "bf16" else "fp32"  # no TF32 on CPUs
    key = f"{_cpu_model()} | {torch.get_num_threads()} threads | {precision}"
    return _measured_cached(dev, key, precision)
