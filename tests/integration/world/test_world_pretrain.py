"""``srlm world pretrain`` rebuilds an M0 of the shipped quality (same seed and settings).

To stay within minutes (6 to 16 on 2 cores: building the corpus, then 1,000 steps) the rebuild
runs the shipped first phase's exact schedule (same steps, cosine, seed, corpus) but stops a
tenth of the way; the shipped run recorded its held-out loss at that same step, so the two
numbers must agree within what another machine's float sums change. The shipped record is
itself checked against the shipped weights: its held-out loss and look-up accuracy, a first
phase whose final loss is well below the early one (the rest of the schedule matters), and a
second phase (check notes) that raised look-up.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

transformers = pytest.importorskip("transformers")
torch = pytest.importorskip("torch")

from srlm.world.model import shipped_m0_path  # noqa: E402
from srlm.world.pretrain import PHASES, heldout_loss, lookup_accuracy, pretrain, probe_step  # noqa: E402

# Same seed and settings give bit-identical losses on one machine and thread count, but early
# training at lr 3e-3 takes another path when float sums come in another order, and the step-1,000
# loss moves with it. Measured: the shipped run 1.3553 (one thread); one thread on an AMD EPYC with
# AVX2 1.3328 (three runs, two installs, bit-identical); two threads on the shipping machine 1.257.
# 0.15 nats covers that spread and is half of what the other 9,000 steps take off (0.31 nats).
TOLERANCE_NATS = 0.15


@pytest.mark.slow
def test_pretrain_rebuilds_the_shipped_m0(tmp_path: Path) -> None:
    shipped = shipped_m0_path()
    shipped_record = json.loads((shipped / "pretrain.json").read_text())
    tokenizer = transformers.AutoTokenizer.from_pretrained(shipped)
    model = transformers.AutoModelForCausalLM.from_pretrained(shipped)
    assert heldout_loss(model, tokenizer) == pytest.approx(shipped_record["heldout_loss"], abs=1e-3)
    lookup = lookup_accuracy(model, tokenizer)
    assert lookup["all"] == pytest.approx(shipped_record["lookup_accuracy"]["all"], abs=1e-3)
    record, notes = shipped_record["phases"]
    assert [record["phase"], notes["phase"]] == [phase.name for phase in PHASES]
    assert record["probe_step"] == probe_step(record["steps"])
    assert record["heldout_loss_at_probe"] - record["heldout_loss"] > 2 * TOLERANCE_NATS
    assert lookup["all"] > record["lookup_accuracy"]["all"] + 0.2

    # One thread, as the shipped run: the paths measured with one thread lie closest together (above).
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        stats = pretrain(
            tmp_path / "m0",
            seed=record["seed"],
            steps=record["steps"],
            batch_size=record["batch_size"],
            stop_at_probe=True,
        )
    finally:
        torch.set_num_threads(threads)
    rebuilt, shipped_early = stats["heldout_loss_at_probe"], record["heldout_loss_at_probe"]
    print(f"rebuilt to step {record['probe_step']} in {stats['seconds']:.0f} s: {rebuilt:.4f} vs {shipped_early:.4f}")
    assert abs(rebuilt - shipped_early) <= TOLERANCE_NATS
    reloaded = transformers.AutoModelForCausalLM.from_pretrained(tmp_path / "m0")
    assert reloaded.num_parameters() == model.num_parameters()


def test_a_later_phase_starts_from_the_earlier_model_and_records_both(tmp_path: Path) -> None:
    shipped = shipped_m0_path()
    stats = pretrain(tmp_path / "more", steps=4, batch_size=2, phase=PHASES[1], init=shipped)
    record = json.loads((tmp_path / "more" / "pretrain.json").read_text())
    earlier = json.loads((shipped / "pretrain.json").read_text())["phases"]
    assert record["phases"][:-1] == earlier
    assert record["phases"][-1]["phase"] == PHASES[1].name and record["phases"][-1]["steps"] == 4
    assert record["lookup_accuracy"]["all"] == stats["lookup_accuracy"]
    assert not (tmp_path / "more" / "_trainer").exists()  # checkpoints go once the phase is done
    assert transformers.AutoModelForCausalLM.from_pretrained(tmp_path / "more").num_parameters() > 1_000_000
