"""The encoder-only family, masked character modelling and the word-swap task."""

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf

from seqlab.errors import SeqlabError
from seqlab.models.encoder.config import EncoderConfig
from seqlab.models.encoder.model import build_encoder
from seqlab.tasks.config import TinyStoriesMLMConfig, TinyStoriesSwapConfig
from seqlab.tasks.mlm import MASK, build_tinystories_mlm, mask_tokens
from seqlab.tasks.word_swap import build_tinystories_swap, swap_two_words
from tests.conftest import TINY_TRAINER, run_cli

V = 17


def encoder(vocab_size: int = V, **overrides) -> torch.nn.Module:
    torch.manual_seed(0)
    cfg = OmegaConf.structured(EncoderConfig(**(dict(n_layer=2, n_head=2, n_embd=16, block_size=12) | overrides)))
    return build_encoder(cfg, vocab_size).eval()


def test_every_position_sees_both_sides():
    model = encoder()
    x = torch.randint(0, V, (2, 10), generator=torch.Generator().manual_seed(0))
    y = x.clone()
    y[:, 5] = (y[:, 5] + 1) % V
    change = (model(x)[0] - model(y)[0]).abs().amax(-1)  # (B, T)
    assert bool((change > 1e-6).all())  # positions before and after 5 all move
    assert model.classify(x).shape == (2, 2)


def test_no_classification_head_when_pretraining():
    model = encoder(num_classes=0)
    assert model.cls_head is None
    with pytest.raises(SeqlabError, match="num_classes=0"):
        model.classify(torch.zeros(1, 4, dtype=torch.long))


def test_masking_rates_and_targets_only_at_selected_positions():
    cfg = OmegaConf.structured(TinyStoriesMLMConfig(source="unused"))
    ids = torch.randint(0, 50, (400, 64), generator=torch.Generator().manual_seed(0))
    batch = mask_tokens(ids, cfg, mask_id=50, vocab_size=51, generator=torch.Generator().manual_seed(1))
    selected = batch.targets != -100
    assert abs(selected.float().mean().item() - 0.15) < 0.01
    assert torch.equal(batch.targets[selected], ids[selected])
    assert torch.equal(batch.inputs[~selected], ids[~selected])  # unselected inputs untouched
    masked = (batch.inputs == 50)[selected].float().mean().item()
    kept = (batch.inputs == ids)[selected].float().mean().item()  # unchanged or a random draw of itself
    assert abs(masked - 0.8) < 0.02 and abs(kept - 0.1) < 0.02


def test_mlm_loss_counts_masked_positions_only(corpus):
    task = build_tinystories_mlm(OmegaConf.structured(TinyStoriesMLMConfig(source=str(corpus), seq_len=12)))
    assert MASK in task.vocab.chars
    model = encoder(len(task.vocab), n_layer=1)
    batch = task.train_batch(4, torch.Generator().manual_seed(0))
    logits = model(batch.inputs)[0].detach().clone()
    logits[batch.targets == -100] = 1e4  # garbage where nothing is scored
    model_out = lambda *_: (logits, None)  # noqa: E731 - a stand-in model returning fixed logits
    reference = torch.nn.functional.cross_entropy(logits[batch.targets != -100], batch.targets[batch.targets != -100])
    torch.testing.assert_close(task.loss(model_out, batch), reference)
    metrics = task.evaluate(model, 8, 2, torch.device("cpu"))
    assert set(metrics) == {"val_loss", "val_acc"} and 0 <= metrics["val_acc"] <= 1


def test_swap_keeps_the_characters_and_changes_the_order():
    text = np.array(list(b"ab cd efg hi j"), dtype=np.int64)
    swapped = swap_two_words(text, ord(" "), np.random.default_rng(0))
    assert swapped is not None and len(swapped) == len(text)
    assert sorted(swapped) == sorted(text) and not np.array_equal(swapped, text)
    assert swap_two_words(np.array(list(b"abc de"), dtype=np.int64), ord(" "), np.random.default_rng(0)) is None


def test_swap_task_is_balanced_and_shares_the_mlm_vocabulary(corpus):
    cfg = TinyStoriesSwapConfig(source=str(corpus), seq_len=32, train_size=40, test_size=20)
    task = build_tinystories_swap(OmegaConf.structured(cfg))
    mlm = build_tinystories_mlm(OmegaConf.structured(TinyStoriesMLMConfig(source=str(corpus))))
    assert task.vocab.chars == mlm.vocab.chars
    assert task.train.targets.float().mean().item() == 0.5
    metrics = task.evaluate(encoder(len(task.vocab), block_size=32), 8, 1, torch.device("cpu"))
    assert 0 <= metrics["val_acc"] <= 1


def test_encoder_trains_on_mlm_through_the_cli_and_refuses_a_language_model_task(corpus, tmp_path):
    small = ["model=encoder", "model.n_embd=16", "model.n_head=2", "model.n_layer=1", f"task.source={corpus}"]
    ok = run_cli("train", *small, "task=tinystories_mlm", "task.seq_len=16", *TINY_TRAINER, cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr
    bad = run_cli("train", *small, "task=tinystories", *TINY_TRAINER, cwd=tmp_path)
    assert bad.returncode == 2 and "cannot serve task" in bad.stderr and "warning" not in bad.stderr


@pytest.mark.parametrize("head", ["mlm", "classify"])
@pytest.mark.parametrize("d_ff", [None, 24])
def test_encoder_flops_match_the_counter(head, d_ff):
    from torch.utils.flop_counter import FlopCounterMode

    from seqlab.models.encoder.flops import encoder_flops

    # manual attention: the counter does not see inside the CPU SDPA kernel
    model = encoder(n_layer=2, attention="manual", d_ff=d_ff, num_classes=3)
    cfg = OmegaConf.structured(EncoderConfig(n_layer=2, n_head=2, n_embd=16, d_ff=d_ff, num_classes=3))
    x = torch.randint(0, V, (3, 10))
    with FlopCounterMode(display=False) as counter:
        model(x) if head == "mlm" else model.classify(x)
    assert counter.get_total_flops() == encoder_flops(cfg, V, 10, 3, head)["forward"]
    with FlopCounterMode(display=False) as counter:
        (model(x)[0] if head == "mlm" else model.classify(x)).sum().backward()
    assert counter.get_total_flops() == encoder_flops(cfg, V, 10, 3, head)["training"]
