"""Tasks: what a model is trained and scored on. `TASKS` declares each one once.

Generated tasks (synthetic.py, synthetic_data.py), TinyStories (tinystories.py, char_lm.py)
and its masked and word-swap variants (mlm.py, word_swap.py); their config schemas are in
config.py. Adding a task: its module, its schema, one entry here, its preset in conf/task/.
"""

from __future__ import annotations

from seqlab.tasks.config import (
    AssocRecallConfig,
    CopyConfig,
    CycleNavigationConfig,
    DuplicateStringConfig,
    EvenPairsConfig,
    FirstTokenConfig,
    MQARConfig,
    ParityConfig,
    RepeatConfig,
    ReverseConfig,
    SortConfig,
    TinyStoriesConfig,
    TinyStoriesMLMConfig,
    TinyStoriesSwapConfig,
)
from seqlab.tasks.spec import TaskSpec

_SYNTHETIC = "seqlab.tasks.synthetic:build_synthetic"
_SYMBOLS = dict(window_field="length", vocab_size="seqlab.tasks.synthetic_data:config_vocab_size")
_PAIRS = dict(kind="seq2seq", example_lengths="seqlab.tasks.synthetic_data:example_lengths", **_SYMBOLS)

TASKS: dict[str, TaskSpec] = {
    "tinystories": TaskSpec(
        TinyStoriesConfig, "seqlab.tasks.tinystories:build_tinystories",
        "language modelling on TinyStories: characters, bytes or BPE tokens (datasets.load_dataset)",
        corpus=True),
    "first_token": TaskSpec(FirstTokenConfig, _SYNTHETIC,
                            "label = the first of T random symbols, read at the last position (seed 000)",
                            kind="classify", **_SYMBOLS),
    "parity": TaskSpec(ParityConfig, _SYNTHETIC, "label = parity of T random bits (odd count of ones)",
                       kind="classify", **_SYMBOLS),
    "even_pairs": TaskSpec(EvenPairsConfig, _SYNTHETIC,
                           "label = whether T random bits hold an odd number of 01 and 10 pairs (regular)",
                           kind="classify", **_SYMBOLS),
    "cycle_navigation": TaskSpec(CycleNavigationConfig, _SYNTHETIC,
                                 "label = end position of T moves (back, stay, on) on a 5-cycle (regular)",
                                 kind="classify", **_SYMBOLS),
    "copy": TaskSpec(CopyConfig, _SYNTHETIC, "target = the source (T random symbols)", **_PAIRS),
    "reverse": TaskSpec(ReverseConfig, _SYNTHETIC, "target = the source reversed", **_PAIRS),
    "sort": TaskSpec(SortConfig, _SYNTHETIC, "target = the source sorted", **_PAIRS),
    "duplicate_string": TaskSpec(DuplicateStringConfig, _SYNTHETIC,
                                 "target = the source twice, w w (context-sensitive)", **_PAIRS),
    "assoc_recall": TaskSpec(AssocRecallConfig, _SYNTHETIC, "k1 v1 ... kP vP q -> the value of key q",
                             **_PAIRS),
    "mqar": TaskSpec(MQARConfig, "seqlab.tasks.mqar:MQARTask",
                     "multi-query associative recall (Zoology): P key-value pairs, then each key queried",
                     vocab_size="seqlab.tasks.mqar:config_vocab_size"),
    "repeat": TaskSpec(RepeatConfig, "seqlab.tasks.synthetic:build_repeat",
                       "next character of a periodic string, the seed's 'abca abca ...' (seed 000)"),
    "tinystories_mlm": TaskSpec(TinyStoriesMLMConfig, "seqlab.tasks.mlm:build_tinystories_mlm",
                                "masked character modelling on TinyStories (15% selected, 80/10/10)", kind="mlm",
                                corpus=True),
    "tinystories_swap": TaskSpec(TinyStoriesSwapConfig, "seqlab.tasks.word_swap:build_tinystories_swap",
                                 "TinyStories window: real, or two words swapped? (labelled, for fine-tuning)",
                                 kind="sequence_classify", corpus=True),
}
