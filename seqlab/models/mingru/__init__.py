"""minGRU and minLSTM language models (Feng et al. 2024): gates that see only the input, so
training scans the recurrence in parallel.

model.py: the cells, blocks and LM; scan.py: the chunked linear-space scan (and the log-space
and sequential references); config.py: their schemas; flops.py: their analytic FLOP model;
trace.py: the top layer's h_t for `seqlab gradients`.
"""

from seqlab.models.mingru.config import MinGRUConfig, MinLSTMConfig
from seqlab.models.spec import FlopModel, ModelSpec

# Every matmul (gate projections, conv, out_proj, MLP, head) is an nn.Linear or conv over the
# whole sequence under either scan, and the scan is elementwise: FlopCounterMode sees them all
# as configured, so no explicit copy is needed (explicit_impl stays empty).
_MIN = dict(recurrent=True, trace="seqlab.models.mingru.trace:top_states")


def _flops(family: str) -> FlopModel:
    return FlopModel(f"seqlab.models.mingru.flops:{family}_flops", ("n_embd",), "n_layer")


SPECS = {
    "mingru": ModelSpec(
        MinGRUConfig, "seqlab.models.mingru.model:build_mingru",
        "minGRU LM (Feng et al. 2024): input-only gates, a parallel chunked scan; scan=parallel|sequential",
        flops=_flops("mingru"), **_MIN),
    "minlstm": ModelSpec(
        MinLSTMConfig, "seqlab.models.mingru.model:build_minlstm",
        "minLSTM LM (Feng et al. 2024): normalised input-only forget/input gates, a parallel chunked scan",
        flops=_flops("minlstm"), **_MIN),
}
