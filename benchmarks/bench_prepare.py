"""Data preparation at scale: time, MB/s and peak memory (prints numbers, asserts nothing).

Builds corpora of 120 M and 600 M training characters in a temp folder by repeating the
shared TinyStories slice's stories, then, each in a fresh child process (peak resident
memory from the kernel's rusage of that child):

1. `seqlab prepare task.max_chars=null`: streamed preparation into token files, with a
   fresh Hugging Face cache (the JSON -> Arrow conversion is included, as a first run pays it);
2. `seqlab train trainer.max_steps=50` on the prepared files (reads them through np.memmap);
3. for comparison, the in-memory path seqlab used before (whole text as one string,
   np.unique vocabulary, np.searchsorted encoding, np.save), re-implemented here, at the
   sizes given by --baseline (default 120 M only: 600 M needs about 15 GB).

    python benchmarks/bench_prepare.py [--sizes 120 600] [--baseline 120] [--keep DIR]
Needs SEQLAB_TINYSTORIES pointing at a TinyStories folder (train.jsonl, validation.jsonl).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MB = 1e6

# The path before streaming (seqlab.tasks.tinystories.load_encoded at 0f50048), as one
# child: stories joined into one string, np.unique vocabulary, searchsorted encoding, np.save.
IN_MEMORY = """
import sys, numpy as np, datasets
ds = datasets.load_dataset(sys.argv[1])
def joined(split):
    parts = []
    for rows in split.iter(batch_size=1000):
        parts.extend(rows["text"])
    return "\\n".join(parts)
def code_points(text):
    return np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
train, val = joined(ds["train"]), joined(ds["validation"])
chars = np.unique(code_points(train))
def encode(text):
    codes = code_points(text)
    ids = np.minimum(np.searchsorted(chars, codes), len(chars) - 1)
    known = chars[ids] == codes
    return np.where(known, ids, len(chars)).astype(np.uint8 if len(chars) < 256 else np.uint16)
np.save(sys.argv[2] + "-train.npy", encode(train))
np.save(sys.argv[2] + "-validation.npy", encode(val))
"""


def build_corpus(slice_dir: Path, folder: Path, chars: int) -> int:
    """train.jsonl repeating the slice's stories until `chars` characters; its validation as is."""
    folder.mkdir(parents=True)
    shutil.copy(slice_dir / "validation.jsonl", folder / "validation.jsonl")
    lines = (slice_dir / "train.jsonl").read_text(encoding="utf-8").splitlines(keepends=True)
    import json

    sizes = [len(json.loads(line)["text"]) + 1 for line in lines]
    written = 0
    with open(folder / "train.jsonl", "w", encoding="utf-8") as f:
        while written < chars:
            for line, size in zip(lines, sizes):
                f.write(line)
                written += size
                if written >= chars:
                    break
    return written


def run_child(args: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """(seconds, peak resident MB, stderr) of one child process, reaped with wait4 for its rusage."""
    with tempfile.TemporaryFile("w+") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        stderr = err.read()
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed:\n{stderr}")
    return seconds, usage.ru_maxrss / 1024, stderr  # ru_maxrss: KiB on Linux


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[120, 600], help="corpus sizes, millions of characters")
    parser.add_argument("--baseline", type=int, nargs="*", default=[120], help="sizes to run the in-memory path at")
    parser.add_argument("--keep", type=Path, default=None, help="build the corpora here and keep them")
    args = parser.parse_args()
    slice_dir = Path(os.environ.get("SEQLAB_TINYSTORIES", ""))
    if not (slice_dir / "train.jsonl").exists():
        raise SystemExit("set SEQLAB_TINYSTORIES to the TinyStories slice (train.jsonl, validation.jsonl)")
    work = args.keep or Path(tempfile.mkdtemp(prefix="bench-prepare-"))
    py = [sys.executable]
    print(f"{os.cpu_count()} CPUs (shared with other jobs: timings are noisy); corpora in {work}")
    print("| train chars | path | prepare s | MB/s | prepare peak MB | train 50 steps peak MB |")
    print("|---|---|---|---|---|---|")
    try:
        for size in args.sizes:
            folder = work / f"corpus-{size}M"
            chars = build_corpus(slice_dir, folder, size * 1_000_000)
            text_mb = (folder / "train.jsonl").stat().st_size / MB
            env = {**os.environ, "OMP_NUM_THREADS": "1", "SEQLAB_CACHE": str(work / f"cache-{size}"),
                   "HF_DATASETS_CACHE": str(work / f"hf-{size}"), "HF_DATASETS_OFFLINE": "1"}
            src = [f"task.source={folder}", "task.max_chars=null"]
            secs, peak, _ = run_child([*py, "-m", "seqlab", "prepare", *src], env)
            _, train_peak, _ = run_child([*py, "-m", "seqlab", "train", *src, "trainer.max_steps=50",
                                          "trainer.eval_every=50", "trainer.num_samples=0", "threads=1",
                                          f"hydra.run.dir={work / f'run-{size}'}"], env)
            print(f"| {chars / MB:.0f} M | streamed | {secs:.1f} | {text_mb / secs:.1f} | {peak:,.0f} | {train_peak:,.0f} |",
                  flush=True)
            if size in args.baseline:
                shutil.rmtree(work / f"hf-{size}")  # the same fresh start as the streamed path
                secs, peak, _ = run_child([*py, "-c", IN_MEMORY, str(folder), str(work / "ids")], env)
                print(f"| {chars / MB:.0f} M | in memory (before) | {secs:.1f} | {text_mb / secs:.1f} | {peak:,.0f} | |",
                      flush=True)
            shutil.rmtree(folder)
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    print("MB/s: the corpus's train.jsonl bytes over the child's wall time (imports and Arrow conversion included)")


if __name__ == "__main__":
    main()
