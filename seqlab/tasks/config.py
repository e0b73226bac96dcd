"""Schemas for the `task` config group: one dataclass per task."""

from dataclasses import dataclass

from omegaconf import MISSING


@dataclass
class TaskConfig:
    """Fields every task has."""

    name: str = MISSING
    """Registry key of the task (`seqlab tasks` lists them)."""
    seq_len: int = 20
    """Tokens per training example (the BPTT length for recurrent models)."""


@dataclass
class TinyStoriesConfig(TaskConfig):
    """Language modelling on TinyStories: characters (the default), bytes or BPE tokens."""

    name: str = "tinystories"
    source: str = "${oc.env:SEQLAB_TINYSTORIES,'roneneldan/TinyStories'}"
    """What `datasets.load_dataset` gets: a hub name or a local folder with train/validation files."""
    max_chars: int | None = 10_000_000
    """Use the first N characters of the train split (stories joined by a newline); None = all of it."""
    val_max_chars: int | None = None
    """Cap on the validation text; None keeps the whole validation split."""
    tokenizer: str = "char"
    """char (sorted characters of the training text + an unknown id), byte (UTF-8 bytes, 256 ids)
    or bpe (byte-level BPE trained on the training text with Hugging Face `tokenizers`)."""
    vocab_size: int = 4096
    """Ids of the bpe tokenizer (257 to 65536); char and byte ignore it."""
    cache_dir: str = "${oc.env:SEQLAB_CACHE,'~/.cache/seqlab'}"
    """Where prepared token files live, keyed by source, caps and tokenizer (`seqlab prepare` fills it)."""


@dataclass
class TinyStoriesMLMConfig(TinyStoriesConfig):
    """Masked character modelling on TinyStories (BERT's objective): loss on selected positions only."""

    name: str = "tinystories_mlm"
    seq_len: int = 64
    """Characters per window."""
    mask_rate: float = 0.15
    """Fraction of positions selected for prediction (at least one per window)."""
    mask_token: float = 0.8
    """Of the selected positions, the fraction replaced by the mask token."""
    random_token: float = 0.1
    """Of the selected positions, the fraction replaced by a random token (the rest stay as they are)."""


@dataclass
class TinyStoriesSwapConfig(TinyStoriesConfig):
    """Classify TinyStories windows: real (1) or with two whole words swapped (0)."""

    name: str = "tinystories_swap"
    seq_len: int = 64
    """Characters per window."""
    train_size: int = 1000
    """Labelled training windows, drawn once from the train split (half of them swapped)."""
    test_size: int = 1000
    """Labelled test windows from the validation split."""
    data_seed: int = 0
    """Seed of both labelled sets."""


@dataclass
class SyntheticConfig:
    """Fields of the generated tasks (seqlab/tasks/synthetic.py): drawn from `data_seed`."""

    name: str = MISSING
    """Registry key of the task (`seqlab tasks` lists them)."""
    length: int = 12
    """Source length T (assoc_recall: the number of key-value pairs)."""
    min_length: int | None = None
    """Train on lengths min_length..length, one length drawn uniformly per batch; None = all at length."""
    num_symbols: int = 10
    """Alphabet size K: the first K of 0-9, a-z, A-Z (at most 62)."""
    train_size: int = 0
    """Training examples drawn once; 0 = a fresh stream every batch (never a test example)."""
    test_size: int = 1000
    """Held-out examples per evaluated length, fixed by data_seed, disjoint from training."""
    eval_lengths: list[int] | None = None
    """Lengths evaluated as val_*@L (e.g. [12, 24]); null = only `length`. Those above `length` (never
    trained on) are also averaged into val_unseen_acc."""
    data_seed: int = 0
    """Seed of the test set and of a finite training set (the run's `seed` orders batches)."""


@dataclass
class FirstTokenConfig(SyntheticConfig):
    """Seed 000: a random sequence; the label is its first token (classify, from the last position)."""

    name: str = "first_token"
    length: int = 50
    num_symbols: int = 2


@dataclass
class ParityConfig(SyntheticConfig):
    """classify: T random bits; the label is their parity (1 when the count of ones is odd)."""

    name: str = "parity"
    length: int = 16
    num_symbols: int = 2


@dataclass
class EvenPairsConfig(SyntheticConfig):
    """classify (regular): T random bits; the label is 1 when the pairs 01 and 10 are odd in number
    (Delétang et al. 2023's Even Pairs; with K > 2, the neighbours that differ)."""

    name: str = "even_pairs"
    length: int = 40
    """Bits per example T (Delétang et al. train on 1-40)."""
    min_length: int | None = 1
    """Train on 1..length bits, one length drawn per batch (the paper's training distribution)."""
    num_symbols: int = 2
    """Alphabet: 0 and 1, as in the paper."""


@dataclass
class CycleNavigationConfig(SyntheticConfig):
    """classify (regular): T moves on a cycle from position 0 (symbol 0 steps back, 1 stays, 2 steps
    on); the label is the final position (Delétang et al. 2023's Cycle Navigation)."""

    name: str = "cycle_navigation"
    length: int = 40
    """Moves per example T (Delétang et al. train on 1-40)."""
    min_length: int | None = 1
    """Train on 1..length moves, one length drawn per batch (the paper's training distribution)."""
    num_symbols: int = 5
    """The cycle's length K, the number of classes (the paper's 5; at least 3: the moves are symbols 0-2)."""


@dataclass
class CopyConfig(SyntheticConfig):
    """seq2seq: the target is the source."""

    name: str = "copy"


@dataclass
class ReverseConfig(SyntheticConfig):
    """seq2seq: the target is the source reversed."""

    name: str = "reverse"


@dataclass
class SortConfig(SyntheticConfig):
    """seq2seq: the target is the source sorted (by symbol order 0-9, a-z, A-Z)."""

    name: str = "sort"


@dataclass
class DuplicateStringConfig(SyntheticConfig):
    """seq2seq (context-sensitive): the target is the source twice, w w (Delétang et al. 2023's
    Duplicate String)."""

    name: str = "duplicate_string"
    length: int = 40
    """Source length T; the target has 2T symbols (Delétang et al. train on 1-40)."""
    min_length: int | None = 1
    """Train on 1..length source symbols, one length drawn per batch (the paper's training distribution)."""
    num_symbols: int = 2
    """Alphabet size K: binary strings, as in the paper."""


@dataclass
class AssocRecallConfig(SyntheticConfig):
    """seq2seq: `k1 v1 ... kP vP q` -> the value of key q (length = P pairs, distinct keys)."""

    name: str = "assoc_recall"
    length: int = 4
    num_symbols: int = 16


@dataclass
class RepeatConfig(TaskConfig):
    """Seed 000's toy: next-character prediction on a periodic string ("abca abca ...")."""

    name: str = "repeat"
    seq_len: int = 32
    """Characters per training window."""
    pattern: str = "abca "
    """The repeated string; empty = a fresh random pattern of `period` symbols per example."""
    period: int = 4
    """Pattern length when `pattern` is empty (only positions after the first period are scored)."""
    num_symbols: int = 10
    """Alphabet of the random patterns."""
    test_size: int = 500
    """Held-out windows (random patterns: patterns never trained on)."""
    data_seed: int = 0
    """Seed of the held-out windows."""


@dataclass
class MQARConfig(TaskConfig):
    """Multi-query associative recall (Zoology): key-value pairs, then every key queried once."""

    name: str = "mqar"
    seq_len: int = 64
    """Tokens per example (even; at least 4 * num_kv_pairs)."""
    num_kv_pairs: int | None = None
    """Key-value pairs at the start of each example, each key queried once after them; None = seq_len // 16,
    the ratio of Zoology's grid ((64, 4), (128, 8), (256, 16)), so sweeping seq_len sweeps both."""
    vocab_size: int = 8192
    """Token ids: keys from [1, V/2), values from [V/2, V), filler from all of them."""
    power_a: float = 0.01
    """Exponent of the power law of query offsets, p(g) ∝ g^(power_a - 1): 0.01 puts most queries near
    the pairs, 1.0 spreads them uniformly."""
    train_size: int = 0
    """Training examples drawn once (from a seed derived from data_seed); 0 = a fresh stream every step."""
    test_size: int = 1000
    """Held-out examples, fixed by data_seed, never trained on."""
    data_seed: int = 0
    """Seed of the test set (and of a finite training set); the run's `seed` orders the stream."""

