"""The loop's generating and evaluating stages, one module each; every stage reads and writes fixed files.

    world.py        the built-in world's seed sets (and model-written EFT answers)
    prompts.py      new prompts: self-instruct, a fixed pool or the world's generator
    candidates.py   N answers per prompt
    judge.py        k judgments per answer (compare.py: pairwise judging instead)
    meta_judge.py   the model compares its own judgments (loop.meta_judge)
    consistency.py  the previous iteration's judge re-judges the same answers (dpo.consistency)
    eft_replay.py   the model re-judges its EFT seed rows; misjudged ones become pairs (loop.eft_replay)
    verdict_pairs.py  EFT seed judgments vs the same with one verdict flipped, no generation (loop.verdict_pairs)
    anchor.py       M1 answers the iteration's prompts, the current model judges (pairs.anchored_rejection)
    pairs.py        best vs worst preference pairs
    evaluate.py     answers and judgments of every model on held-out prompts; evaluate_metrics.py,
                    judge_eval_metrics.py, iteration_health.py and data_checks.py turn the run's
                    files into eval/metrics.json
                    (metric_helpers.py: what the metric modules share)
    common.py       resumable batched generation and finishing an artifact with its manifest

The training stages (SFT, DPO) are in srlm/training.
"""
