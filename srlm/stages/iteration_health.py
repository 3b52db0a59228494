"""Per-iteration judge health for eval/metrics.json's ``iterations[]``, from a run's `iter<t>/` files.

`iteration_health` assembles one record per iteration: candidate and pair counts, tie and parse
failure rates, the judge's score histogram, length-score correlations and alarms. With an oracle
(world runs) also the pairs' precision (``pair_oracle``) and the generator-verifier gap
(``best_of_n``); in the world, per-check verdict accuracy (``judge_checks``); and ``dpo``, the
health of the DPO stage that trained on the iteration's pairs. `srlm.stages.evaluate_metrics`
puts the records into the document.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from typing import Any

from srlm.config import Config
from srlm.method.metrics import SCORE_BINS, best_of_n
from srlm.method.preferences import ScoredCandidate, build_pairs
from srlm.rundir import RunDir, read_manifest
from srlm.stages.metric_helpers import Oracle, _mean, _rows, words

DOMINANT_SCORE_SHARE = 0.8  # alarm: one score is more than this share of parsed judge samples
PARSE_FAILURE_ALARM = 0.2
DPO_STILL_MARGIN = 0.05  # alarm: DPO's last logged reward margin below this did not train
DPO_DISPLACEMENT_NATS = 3.0  # alarm: the chosen answers' log-prob fell by more than this (likelihood displacement)


def _histogram(scores: Sequence[float | None]) -> dict[str, int]:
    histogram = dict.fromkeys(SCORE_BINS, 0)
    for score in scores:
        histogram["unparsed" if score is None else str(math.floor(score + 0.5))] += 1
    return histogram


def _correlations(lengths: list[int], scores: list[float]) -> dict[str, float]:
    from scipy import stats

    if len(lengths) < 3 or len(set(lengths)) < 2 or len(set(scores)) < 2:
        return {"pearson": math.nan, "spearman": math.nan}  # undefined on constant data
    return {
        "pearson": float(stats.pearsonr(lengths, scores).statistic),
        "spearman": float(stats.spearmanr(lengths, scores).statistic),
    }


def _candidate_tie_rate(candidates: list[dict[str, Any]], scores: dict[str, float | None]) -> float:
    """Share of within-prompt candidate pairs (both scored) whose mean judge scores are equal."""
    by_prompt: dict[str, list[float]] = {}
    for c in candidates:
        if scores.get(c["id"]) is not None:
            by_prompt.setdefault(c["prompt_id"], []).append(float(scores[c["id"]]))  # type: ignore[arg-type]
    ties = total = 0
    for group in by_prompt.values():
        for i in range(len(group)):
            for j in range(i + 1, len(group)):
                ties += group[i] == group[j]
                total += 1
    return ties / total if total else math.nan


def _alarms(samples: list[float | None], counts: dict[str, Any], pairs: int) -> list[str]:
    parsed = [s for s in samples if s is not None]
    alarms = []
    if parsed:
        score, n = Counter(parsed).most_common(1)[0]
        if n / len(parsed) > DOMINANT_SCORE_SHARE:
            alarms.append(f"score {score:g} is {n / len(parsed):.0%} of parsed judge scores (judge collapse?)")
    if samples and 1 - len(parsed) / len(samples) > PARSE_FAILURE_ALARM:
        alarms.append(f"{1 - len(parsed) / len(samples):.0%} of judge samples did not parse")
    if counts and pairs == 0:
        alarms.append("no preference pair kept")
    return alarms


def _longer(pairs: Sequence[Any]) -> float:
    """Share of pairs whose chosen answer has more words than the rejected one."""
    return _mean([float(words(p["chosen"]) > words(p["rejected"])) for p in pairs])


def pair_precision(pairs: list[dict[str, Any]], oracle: Oracle) -> dict[str, Any]:
    """How the oracle ranks each self-built pair: chosen truly better, equal, or worse.

    ``precision`` = better / (better + worse): 0.5 is a judge at chance on its own answers.
    ``grade_gap``: the mean of chosen's grade minus rejected's, ties and wrong pairs included (what
    DPO is shown; compare the reference's own pairs, ``best_of_n.reference_pairs_grade_gap``).
    ``chosen_longer``: the share of pairs whose chosen answer is the longer one.
    """
    outcome = {"better": 0, "equal": 0, "worse": 0, "ungraded": 0}
    gaps: list[float] = []
    for pair in pairs:
        try:
            chosen = oracle(pair["prompt"], pair["chosen"]).score
            rejected = oracle(pair["prompt"], pair["rejected"]).score
        except ValueError:  # a prompt the oracle cannot read: counted, not graded
            outcome["ungraded"] += 1
            continue
        outcome["better" if chosen > rejected else "worse" if chosen < rejected else "equal"] += 1
        gaps.append(float(chosen - rejected))
    decided = outcome["better"] + outcome["worse"]
    return {
        **outcome,
        "precision": outcome["better"] / decided if decided else math.nan,
        "grade_gap": _mean(gaps),
        "chosen_longer": _longer(pairs),
    }


def reference_grades(candidates: list[dict[str, Any]], oracle: Oracle) -> dict[str, float]:
    """Candidate id -> the reference's grade (candidates of prompts it cannot read left out)."""
    out = {}
    for c in candidates:
        try:
            out[c["id"]] = float(oracle(c["prompt"], c["response"]).score)
        except ValueError:
            continue
    return out


def generator_verifier_gap(
    candidates: list[dict[str, Any]], scores: dict[str, Any], reference: dict[str, float], seed: int, n_resamples: int
) -> dict[str, Any]:
    """The judge's best-of-N against the reference's (srlm.method.metrics.best_of_n), and the reference's own pairs.

    ``reference_pairs_chosen_longer``: how often the reference's best-vs-worst pair (the paper's
    rule, ties dropped) has the longer answer as chosen, to compare with the judge's pairs;
    ``reference_pairs_grade_gap``: those pairs' mean grade gap (the judge's: ``pair_oracle.grade_gap``).
    """
    groups: dict[str, list[dict[str, Any]]] = {}
    for c in candidates:
        if c["id"] in reference:
            groups.setdefault(c["prompt_id"], []).append(c)
    report = best_of_n(
        [([scores.get(c["id"]) for c in group], [reference[c["id"]] for c in group]) for group in groups.values()],
        seed,
        n_resamples,
    )
    ranked = [
        ScoredCandidate(c["id"], c["prompt_id"], c["prompt"], c["response"], reference[c["id"]])
        for group in groups.values()
        for c in group
    ]
    reference_pairs, _ = build_pairs(ranked)
    longer = _mean([float(words(p.chosen) > words(p.rejected)) for p in reference_pairs])
    gap = _mean([p.score_chosen - p.score_rejected for p in reference_pairs])
    return {
        **report,
        "reference_pairs": len(reference_pairs),
        "reference_pairs_chosen_longer": longer,
        "reference_pairs_grade_gap": gap,
    }


def dpo_health(rd: RunDir, t: int) -> dict[str, Any] | None:
    """DPO of iteration t from m<t+1>'s manifest: loss and TRL's diagnostics first -> last, with alarms."""
    manifest = read_manifest(rd.model(t + 1))
    if not manifest or "first_loss" not in manifest:
        return None
    found = manifest.get("diagnostics") or {}
    alarms = []
    margin = found.get("rewards/margins")
    if margin is not None and abs(margin["last"]) < DPO_STILL_MARGIN:
        alarms.append(f"DPO did not train: reward margin {margin['first']:.3f} -> {margin['last']:.3f}")
    chosen = found.get("logps/chosen")
    if chosen is not None and chosen["first"] - chosen["last"] > DPO_DISPLACEMENT_NATS:
        alarms.append(
            f"likelihood displacement: the chosen answers' log-prob fell {chosen['first'] - chosen['last']:.1f} nats "
            f"({chosen['first']:.2f} -> {chosen['last']:.2f})"
        )
    return {
        "examples": manifest.get("rows"),
        "loss": {"first": manifest["first_loss"], "last": manifest["last_loss"]},
        **{key.replace("/", "_"): value for key, value in found.items()},
        **({"interpolation": manifest["interpolation"]["weight"]} if manifest.get("interpolation") else {}),
        "alarms": alarms,
    }


def iteration_health(
    rd: RunDir, t: int, oracle: Oracle | None = None, cfg: Config | None = None
) -> dict[str, Any] | None:
    """Judge health of iteration t from its own artifacts; None when it has no judgments yet.

    With an oracle (world runs), also how often the chosen answer of a pair is truly the better one,
    the generator-verifier gap (``best_of_n``) and, in the world, per-check verdict accuracy
    (``judge_checks``). ``dpo``: the DPO stage that trained on these pairs, with its alarms.
    """
    candidates = _rows(rd.artifact(t, "candidates"))
    judgments = _rows(rd.artifact(t, "judgments"))
    if not candidates or not judgments:
        return None
    seed, n_resamples = (cfg.loop.seed, cfg.eval.bootstrap_samples) if cfg else (0, 2000)
    scores = {j["id"]: j.get("score") for j in judgments}
    samples = [s.get("score") for j in judgments for s in j.get("samples", [])]
    counts = (read_manifest(rd.artifact(t, "pairs")) or {}).get("counts", {})
    pairs = _rows(rd.artifact(t, "pairs"))
    scored = [(words(c["response"]), float(s)) for c in candidates if (s := scores.get(c["id"])) is not None]
    judged_prompts = sum(counts.values()) if counts else 0
    health: dict[str, Any] = {
        "iteration": t,
        "pairs_source": cfg.pairs.source if cfg else "judge",
        "prompts": len({c["prompt_id"] for c in candidates}),
        "candidates": len(candidates),
        "pairs": len(pairs),
        "tie_drop_rate": counts.get("dropped_tie", 0) / judged_prompts if judged_prompts else math.nan,
        "candidate_tie_rate": _candidate_tie_rate(candidates, scores),
        "dropped": {k: v for k, v in counts.items() if k != "kept"},
        "mean_answer_words": _mean([words(c["response"]) for c in candidates]),
        "parse_failure_rate": sum(s is None for s in samples) / len(samples) if samples else math.nan,
        "score_histogram": _histogram(list(scores.values())),
        "length_score_correlation": _correlations([n for n, _ in scored], [s for _, s in scored]),
        "mean_pair_gap": _mean([p["score_chosen"] - p["score_rejected"] for p in pairs]),
    }
    reference: dict[str, float] | None = None  # the candidates' grades (world runs), used twice below
    if oracle is not None:
        reference = reference_grades(candidates, oracle)
        health["pair_oracle"] = pair_precision(pairs, oracle)
        health["best_of_n"] = generator_verifier_gap(candidates, scores, reference, seed, n_resamples)
    if cfg is not None and cfg.world is not None:
        from srlm.world.judge_checks import judge_checks

        by_id = {c["id"]: c for c in candidates}
        judged = (
            (by_id[j["id"]]["prompt"], by_id[j["id"]]["response"], [s["text"] for s in j.get("samples", [])])
            for j in judgments
            if j["id"] in by_id
        )
        health["judge_checks"] = judge_checks(judged, cfg.world.clean_line)
    anchors = _rows(rd.artifact(t, "anchor_candidates"))
    if anchors:  # pairs.anchored_rejection: the rejected side came from M1's answers
        health["anchored"] = anchored_health(candidates, anchors, oracle, reference)
    replay = (read_manifest(rd.artifact(t, "eft_pairs")) or {}).get("counts")
    if replay:  # loop.eft_replay: how often M_t judged its seed rows as the seed set does
        agreement = replay["samples_right"] / replay["samples"] if replay["samples"] else math.nan
        health["eft_replay"] = {**replay, "seed_agreement": agreement}
    flipped = (read_manifest(rd.artifact(t, "verdict_pairs")) or {}).get("counts")
    if flipped:  # loop.verdict_pairs: seed judgments against one flipped verdict
        health["verdict_pairs"] = flipped
    dpo = dpo_health(rd, t)
    if dpo is not None:
        health["dpo"] = dpo
    health["alarms"] = _alarms(samples, counts, len(pairs)) + _meta_alarms(rd, t) + (dpo["alarms"] if dpo else [])
    return health


def anchored_health(
    candidates: list[dict[str, Any]],
    anchors: list[dict[str, Any]],
    oracle: Oracle | None,
    reference: dict[str, float] | None,
) -> dict[str, Any]:
    """M1's answers to the iteration's prompts beside the current model's: count, words and (world) oracle grade.

    ``reference``: the current candidates' grades, already computed for the iteration's health.
    """
    health: dict[str, Any] = {
        "anchor_candidates": len(anchors),
        "mean_answer_words": {
            "current": _mean([words(c["response"]) for c in candidates]),
            "anchor": _mean([words(c["response"]) for c in anchors]),
        },
    }
    if oracle is not None and reference is not None:
        health["oracle_mean"] = {
            "current": _mean(list(reference.values())),
            "anchor": _mean(list(reference_grades(anchors, oracle).values())),
        }
    return health


def _meta_alarms(rd: RunDir, t: int) -> list[str]:
    """The meta-judge's verdicts (two per row) that did not parse: a meta-judge that cannot be
    read makes no pairs, and the run is then the plain loop without saying so."""
    manifest = read_manifest(rd.artifact(t, "meta_judgments")) or {}
    verdicts = 2 * manifest.get("rows", 0)
    unparsed = manifest.get("counts", {}).get("unparsed_verdicts", 0)
    if verdicts and unparsed / verdicts > PARSE_FAILURE_ALARM:
        return [f"{unparsed / verdicts:.0%} of meta-judge verdicts did not parse"]
    return []
