"""A run folder: what a run leaves on disk, and everything that reads or writes it.

The file names are here, once; `writer.py` writes every file of a running run, `reader.py`
is what the commands that read runs use, `folder.py` makes and claims a folder (with
`lock.py`), `checkpoint.py` / `train_state.py` / `rank_state.py` are a step folder's files,
`init_from.py` starts a run from another run's weights, `atomic.py` writes a file whole or not
at all.

    <run>/config.yaml       the resolved config (+ `run:` facts: world size, global batch)
    <run>/metrics.jsonl     one JSON record per log step (train loss, val metrics, throughput)
    <run>/summary.json      the run's final numbers and status (running runs have none yet)
    <run>/samples.txt       samples at each evaluation, one block per step
    <run>/flops.json        the FLOP model's counts for this run's shape, and the device's peak
    <run>/loss.png          loss curves
    <run>/train.log         the console's lines and every library's log
    <run>/checkpoint/       step_N/ folders, last.json and best.json pointing at them
    <run>/.hydra/           the overrides it was started with (`seqlab resume` reads them)
    <run>/.lock             held by the one process writing the run
"""

CONFIG = "config.yaml"
METRICS = "metrics.jsonl"
SUMMARY = "summary.json"
SAMPLES = "samples.txt"
FLOPS = "flops.json"
LOSS_PLOT = "loss.png"
TRAIN_LOG = "train.log"
CHECKPOINTS = "checkpoint"
LAST = "last.json"
"""In CHECKPOINTS: the pointer to the newest step folder (`best.json`: the best evaluation's)."""
HYDRA_RECORDS = ".hydra"
LOCK = ".lock"

HOLDS_A_RUN = (CONFIG, METRICS, SUMMARY, CHECKPOINTS)
"""A folder with any of these holds a run: training into it afresh would mix two runs."""
TRAINED = (METRICS, CHECKPOINTS)
"""What a run leaves once it has trained: a failed run's folder with neither is debris."""
READABLE = (CONFIG, METRICS, SUMMARY)
"""What `seqlab compare` can read a run from (any one of them)."""
SHOWN = (CONFIG, LOSS_PLOT, SAMPLES, FLOPS, SUMMARY)
"""The small files a tracker uploads at the end (never checkpoints)."""


def sample_block_header(step: int, prompt: str | None) -> str:
    """The line that opens samples.txt's block of evaluation `step`."""
    return f"=== step {step} | prompt {prompt!r} ===\n" if prompt else f"=== step {step} ===\n"


def sample_block(text: str, step: int) -> str | None:
    """The samples.txt block of evaluation `step` (its header line and samples), or None."""
    for block in reversed(text.split("=== step ")):
        head, _, rest = block.partition("\n")
        if head.split(" ", 1)[0] == str(step):
            return f"=== step {head}\n{rest.rstrip()}"
    return None
