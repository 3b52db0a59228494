"""Typed run configuration: one YAML file, one section per stage, CLI overrides on top.

    cfg = load_config("configs/my.yaml", ["dpo.beta=0.2", "loop.iterations=3"])

Defaults are the paper's settings (Yuan et al. 2024, Llama 2 70B) unless a field's help says
otherwise. Unknown keys and wrong types are errors that name the file and the dotted key.
Relative paths in a config are resolved against the current working directory.
"""

from __future__ import annotations

import hashlib
import json
from importlib import resources
from pathlib import Path
from typing import Any, Literal, cast
from urllib.parse import urlsplit

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from srlm.world.grammar import LOCAL_KINDS


class ConfigError(ValueError):
    """A config file or override that cannot be used; the message names the file and key."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class LoraSettings(_Section):
    r: int = Field(16, gt=0, description="LoRA rank")
    alpha: int = Field(32, gt=0, description="LoRA alpha")
    dropout: float = Field(0.05, ge=0, lt=1)
    target_modules: list[str] | str = Field("all-linear", description="peft target_modules")


class ModelSection(_Section):
    path: str = Field(..., description="local HF model dir, hub id, or 'world:m0' for the built-in M0")
    dtype: Literal["float32", "bfloat16", "float16"] = "float32"
    trust_remote_code: bool = Field(False, description="run code shipped with the model (off: safer)")
    allow_pickle: bool = Field(False, description="also load pickled weights (*.bin); off: safetensors only")
    chat_template: str | None = Field(None, description="Jinja chat template (file path or text) if the model has none")
    gradient_checkpointing: bool = Field(False, description="trade compute for memory when training big models")
    lora: LoraSettings | None = Field(
        None, description="train LoRA adapters; they are merged into the saved model after each stage"
    )


class DataSection(_Section):
    ift: str | None = Field(None, description="IFT JSONL/datasets dir: {prompt, response}; null = the world's")
    eft: str | None = Field(None, description="EFT JSONL/datasets dir: {prompt, response, judgment}")
    eval_prompts: list[str] = Field(
        default_factory=list, description="held-out prompt files: never trained on, decontaminated against"
    )
    drop_contaminated: bool = Field(
        False,
        description="drop IFT/EFT rows whose prompt matches a held-out prompt (exact or ROUGE-L >= "
        "prompts.dedup_threshold); off: they are counted and warned about",
    )


class SFTSection(_Section):
    epochs: float = Field(3, gt=0)
    learning_rate: float = Field(5.5e-6, gt=0, description="paper: 5.5e-6, cosine")
    min_learning_rate: float = Field(1.1e-6, ge=0, description="paper: cosine down to 1.1e-6")
    batch_size: int = Field(16, gt=0, description="paper: 16")
    max_length: int = Field(1024, gt=0, description="tokens per example; longer ones are truncated")
    packing: bool = Field(False, description="pack examples into max_length rows (TRL bfd)")


class PromptsSection(_Section):
    source: Literal["self_instruct", "file", "world"] = Field(
        "self_instruct", description="self_instruct: the current model writes them; file: a fixed pool"
    )
    path: str | None = Field(None, description="prompt pool for source=file (JSONL with 'prompt')")
    n: int = Field(1000, gt=0, description="new prompts per iteration")
    shots: int = Field(8, gt=0, description="paper: 8 examples in the self-instruct prompt")
    generated_shots: int = Field(2, ge=0, description="of the shots, how many come from generated prompts")
    max_attempts_factor: float = Field(4.0, ge=1, description="give up after n * this many generations")
    temperature: float = Field(0.6, ge=0, description="paper: 0.6")
    top_p: float = Field(0.9, gt=0, le=1, description="paper: 0.9")
    max_new_tokens: int = Field(128, gt=0)
    min_words: int = Field(3, ge=1)
    max_words: int = Field(150, ge=1)
    dedup_threshold: float = Field(0.7, gt=0, le=1, description="ROUGE-L F above which a prompt is a near-duplicate")


class CandidatesSection(_Section):
    n: int = Field(4, ge=2, description="paper: 4 answers per prompt")
    temperature: float = Field(0.7, ge=0, description="paper: 0.7")
    top_p: float = Field(0.9, gt=0, le=1, description="paper: 0.9")
    max_new_tokens: int = Field(256, gt=0)


class JudgeSection(_Section):
    samples: int = Field(3, ge=1, description="paper: 3 judgments per answer, averaged")
    template: str | None = Field(
        None,
        description="judge prompt file with {prompt} and {response}; null = shipped rubric (world runs: world:judge)",
    )
    temperature: float = Field(0.7, ge=0, description="paper: same sampling as candidates")
    top_p: float = Field(0.9, gt=0, le=1)
    max_new_tokens: int = Field(256, gt=0)


class PairsSection(_Section):
    min_score_gap: float = Field(0.0, ge=0, description="drop pairs whose chosen-rejected gap is below this")
    mode: Literal["pointwise", "pairwise"] = Field(
        "pointwise", description="pointwise: k scores per answer (paper); pairwise: every two answers, both orders"
    )
    drop_truncated: bool = Field(
        True,
        description="keep answers cut off at candidates.max_new_tokens out of pairs; off: they may be chosen or "
        "rejected and DPO trains them without an end of turn (never as finished answers)",
    )
    length_control_rho: float | None = Field(
        None, ge=0, lt=0.5, description="Meta-Rewarding: shortest of the top band vs longest of the bottom; null = off"
    )
    source: Literal["judge", "oracle"] = Field(
        "judge",
        description="judge: the model's own scores (the method); oracle: the world oracle's grades of the same "
        "candidates (a control for what DPO can learn from right pairs; world runs only)",
    )
    anchored_rejection: bool = Field(
        False,
        description="iterations >= 2: rejected = the worst of M1's answers to the same prompt, judged by the "
        "current model (Temporal Self-Rewarding's anchored rejection); chosen = the best current answer",
    )


class SelectSettings(_Section):
    checkpoints: int = Field(
        5, ge=2, description="DPO checkpoints saved, evenly spaced over training, the last step included"
    )
    judge: Literal["oracle", "judge_model"] = Field(
        "oracle",
        description="oracle: the world oracle's mean grade (world runs); judge_model: eval.judge_model's win rate "
        "against M_t, pairwise in both orders",
    )
    prompts: str | None = Field(
        None,
        description="held-out selection prompts (JSONL with prompt; never an evaluation file); "
        "null in world runs = fresh world prompts",
    )
    n_prompts: int = Field(200, gt=0, description="selection prompts answered by each checkpoint")


class DPOSection(_Section):
    beta: float = Field(0.1, gt=0, description="paper: 0.1")
    learning_rate: float = Field(1e-6, gt=0, description="paper: 1e-6, cosine")
    min_learning_rate: float = Field(1e-7, ge=0, description="paper: down to 1e-7")
    epochs: float = Field(1, gt=0)
    batch_size: int = Field(16, gt=0, description="paper: 16")
    max_length: int = Field(1024, gt=0)
    warmup_ratio: float = Field(
        0.0, ge=0, lt=1, description="share of the steps with a linear lr warm-up (paper: none)"
    )
    nll_weight: float = Field(
        0.0,
        ge=0,
        description="weight of an NLL term on the chosen answer added to the DPO loss (IRPO's DPO+NLL; TRL's "
        "loss_type ['sigmoid', 'sft']); 0 = plain DPO (paper)",
    )
    method: Literal["dpo", "sft_best"] = Field(
        "dpo", description="sft_best: SFT on each pair's chosen answer instead (the paper's ablation)"
    )
    group_by_length: bool = Field(
        False,
        description="batches of pairs of similar length (transformers' LengthGroupedSampler, as SFT always uses): "
        "less padding where judge pairs train beside short answer pairs; false = random batches",
    )
    interpolation: float = Field(
        1.0,
        gt=0,
        le=1,
        description="M(t+1) = M(t) + w (trained - M(t)): the trained weights moved back toward the iteration's start "
        "model (WiSE-FT; WARP's LERP), which keeps more of what DPO does not train, the judge included; "
        "1 = the trained model (paper)",
    )
    consistency: bool = Field(
        False, description="CREAM: weight DPO by the judge's agreement with the previous iteration's (iteration >= 2)"
    )
    select: SelectSettings | None = Field(
        None,
        description="the paper's checkpoint selection: keep the DPO checkpoint a stronger judge prefers on "
        "held-out prompts as M(t+1); null = the last step (default)",
    )


class TrainSection(_Section):
    launcher: Literal["inprocess", "accelerate"] = Field(
        "inprocess",
        description="inprocess: SFT/DPO in this process; accelerate: a subprocess under `accelerate launch`",
    )
    accelerate_config: str | None = Field(
        None, description="accelerate config file, or a shipped one: zero2, zero3, zero3-offload, fsdp, cpu-2proc"
    )
    num_processes: int | None = Field(None, gt=0, description="processes (GPUs) per run; null = the config file's")
    gradient_accumulation_steps: int = Field(
        1, gt=0, description="sft/dpo.batch_size is the global batch = per-device batch x processes x this"
    )
    report_to: list[str] = Field(
        default_factory=list,
        description="experiment trackers, as transformers' report_to: tensorboard, trackio, wandb …; SFT/DPO log "
        "their steps and the loop its per-iteration numbers (step = iteration); [] = none",
    )
    project: str = Field("srlm", description="project name in trackio and W&B (W&B: unless WANDB_PROJECT is set)")

    @field_validator("report_to", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        if isinstance(value, str):  # `--set train.report_to=tensorboard`
            value = [value]
        if isinstance(value, list) and value == ["none"]:
            return []
        if isinstance(value, list) and "none" in value:
            raise ValueError("'none' cannot stand beside a tracker; use [] for none")
        return value

    @model_validator(mode="after")
    def _needs_config(self) -> TrainSection:
        if self.launcher == "accelerate" and not self.accelerate_config:
            raise ValueError("train.accelerate_config is required when train.launcher is 'accelerate'")
        return self


class LoopSection(_Section):
    iterations: int = Field(2, ge=0, description="paper: 2 (M1 -> M2 -> M3)")
    seed: int = 0
    run_dir: str = Field("runs/my-run", description="everything the run writes goes here")
    sft_baseline: bool = Field(False, description="also train an IFT-only SFT baseline for evaluation")
    ift_only: bool = Field(False, description="M1 = SFT on IFT without EFT (the paper's ablation)")
    meta_judge: bool = Field(False, description="Meta-Rewarding: DPO also on pairs of its own judgments")
    eft_replay: int = Field(
        0,
        ge=0,
        description="judge data kept in the iterations: M_t re-judges this many EFT rows and DPO also trains "
        "seed judgment vs its own misjudgment (srlm/method/judging/replay.py); 0 = off (paper)",
    )
    verdict_pairs: int = Field(
        0,
        ge=0,
        description="judge data kept in the iterations, no generation: this many EFT rows per iteration become "
        "DPO pairs, seed judgment vs the same with one `, yes`/`, no` verdict flipped (a judgment without one: "
        "NLL only) (srlm/method/judging/verdicts.py); 0 = off (paper)",
    )
    verdict_pairs_from: int = Field(
        1,
        ge=1,
        description="the first iteration whose DPO trains loop.verdict_pairs (2: not in the first, where the judge "
        "holds by itself in the world)",
    )

    def trains_verdict_pairs(self, t: int) -> bool:
        """Whether iteration t's DPO trains flipped-verdict pairs."""
        return self.verdict_pairs > 0 and t >= self.verdict_pairs_from

    @field_validator("run_dir")
    @classmethod
    def _no_parent_steps(cls, value: str) -> str:
        # Every artifact path is built under run_dir; a '..' step would put them somewhere else.
        if not value.strip():
            raise ValueError("must name a directory")
        if ".." in Path(value).parts:
            raise ValueError(f"{value!r} steps out with '..'; write the directory without it (absolute paths are fine)")
        return value


class BackendSection(_Section):
    engine: Literal["hf", "openai", "server"] = Field(
        "hf",
        description="hf: transformers in this process; openai: any chat-completions server (vllm serve, ...); "
        "server: openai against servers srlm starts (backend.launch) and stops per iteration",
    )
    batch_size: int = Field(32, gt=0, description="sequences per generation batch")
    num_processes: int = Field(
        1, ge=1, description="engine hf: worker processes, each with its own model copy, whole batches dealt out"
    )
    device: str | None = Field(None, description="torch device; null = cuda if available else cpu")
    kv_cache: Literal["static", "dynamic"] = Field(
        "static", description="static: preallocated KV cache (measured 2.2x faster than dynamic on CPU)"
    )
    attn_implementation: Literal["eager", "sdpa"] | None = Field(
        None,
        description="engine hf: the attention kernel generation uses; null = the model's default (sdpa in "
        "transformers); eager is faster for tiny models (docs/performance.md), slower for SmolLM2-135M",
    )
    # The keys below are read by engine: openai and server.
    base_url: str = Field("http://localhost:8000/v1", description="server API root (vllm serve's default)")
    model: str | None = Field(
        None, description="model name on the server; null = the absolute path of the model dir the stage uses"
    )
    check_model: Literal["listed", "fingerprint", "off"] = Field(
        "listed",
        description="before sending work: listed = GET /models must list the name sent; fingerprint = also greedy "
        "probe answers must match the local model dir's (loads it here); off = no check",
    )
    api_key_env: str | None = Field(
        "OPENAI_API_KEY", description="env var holding the API key (only its name is stored); unset var = no key"
    )
    concurrency: int = Field(8, gt=0, description="most requests in flight at once")
    samples_per_request: int = Field(
        1, ge=1, description="send up to this many samples of one prompt as one request with n=…; 1 = no n"
    )
    max_retries: int = Field(5, ge=0, description="retries after 429, 5xx, timeouts and connection errors")
    timeout_s: float = Field(600.0, gt=0, description="seconds per request")
    backoff_s: float = Field(1.0, ge=0, description="first retry delay, doubled each retry, with jitter")
    max_backoff_s: float = Field(60.0, ge=0, description="longest wait between retries (Retry-After included)")
    cache: str | None = Field(None, description="response cache dir; null = <run_dir>/openai_cache")
    # The keys below are read by engine: server only (srlm/backends/server.py).
    launch: str | None = Field(
        "vllm serve {model} --port {port} --served-model-name {name}",
        description="command starting one server; {model} {name} {port} {index} filled in; null = urls already up",
    )
    urls: list[str] = Field(
        default_factory=list, description="API roots of the servers, one server each (rows sharded); [] = [base_url]"
    )
    health_timeout_s: float = Field(900.0, gt=0, description="seconds a started server may take to become healthy")
    stop_timeout_s: float = Field(30.0, ge=0, description="seconds between SIGTERM and SIGKILL when stopping a server")

    @model_validator(mode="after")
    def _check_url(self) -> BackendSection:
        urls = self.urls or [self.base_url]
        for url in urls if self.engine in ("openai", "server") else []:
            if not url.startswith(("http://", "https://")):
                key = "backend.urls" if self.urls else "backend.base_url"
                raise ValueError(f"{key} must start with http:// or https:// (got {url!r})")
        if self.engine == "server" and self.launch:
            ports = [urlsplit(url).port for url in urls]
            if None in ports or len(set(ports)) < len(ports) or "{port}" not in self.launch:
                raise ValueError("backend.launch needs {port} and backend.urls distinct explicit ports (:8000, :8001)")
        if self.num_processes > 1 and self.engine != "hf":
            raise ValueError("backend.num_processes applies to engine hf only (servers have backend.urls)")
        return self


RuleKind = Literal[
    "include", "avoid", "count_exact", "count_at_most", "count_at_least", "start", "end", "list", "repeat", "order"
]  # the world's constraint kinds (srlm.world.grammar.KINDS; a test keeps the two alike)


class WorldSection(_Section):
    seed: int = Field(0, description="world seed: seed sets and prompt generator")
    ift: int = Field(1000, gt=0, description="IFT rows (prompt, best answer)")
    eft_prompts: int = Field(1000, gt=0, description="EFT prompts (each with several judged answers)")
    eft_answers_per_prompt: int = Field(4, gt=0)
    eft_model_answers: int = Field(
        0,
        ge=0,
        description="also sample this many answers per EFT prompt from the IFT-only SFT model, judged by the "
        "oracle (the paper's EFT answers came from real models); 0 = synthetic answers only",
    )
    rules: list[RuleKind] = Field(
        default_factory=lambda: cast("list[RuleKind]", list(LOCAL_KINDS)),
        min_length=1,
        description="the constraint kinds instructions are drawn from: the default, the seven a small judge "
        "checks at one place of the answer (include, avoid, exact / at most / at least n words, start, end); "
        "the world before also drew `list`, `repeat` (say W n times) and `order` (docs/world.md)",
    )
    clean_line: Literal["verdict", "word"] = Field(
        "verdict",
        description="the EFT judgments' clean line: 'verdict' = `clean : yes` / `clean : too short , no`; 'word' = "
        "a clean answer's line names its first word (`clean : <first word> one , yes`; measured in docs/world.md "
        "on the world before)",
    )
    judge_eval: int = Field(300, gt=0, description="ranked judge-eval prompts")
    eval: int = Field(1000, gt=0, description="held-out evaluation prompts")
    dev: int = Field(300, gt=0, description="tuning prompts (never the evaluation set)")

    @field_validator("rules")
    @classmethod
    def _distinct_rules(cls, rules: list[str]) -> list[str]:
        if len(set(rules)) != len(rules):
            raise ValueError(f"each constraint kind at most once: {rules}")
        return rules


class EvalSection(_Section):
    prompts: list[str] = Field(default_factory=list, description="evaluation prompt files; [] = data.eval_prompts[0]")
    max_prompts: int | None = Field(None, gt=0, description="evaluate on the first n prompts only")
    temperature: float = Field(0.0, ge=0, description="0 = greedy answers")
    top_p: float = Field(1.0, gt=0, le=1)
    max_new_tokens: int = Field(256, gt=0)
    judge_model: str | None = Field(None, description="HF model judging pairwise, both orders (the paper's GPT-4)")
    judge_eval: str | None = Field(None, description="ranked answers JSONL for judge quality; world runs: built in")
    judge_samples: int | None = Field(None, ge=1, description="judge samples per answer in eval; null = judge.samples")
    self_judge: bool = Field(True, description="also score answers with each model's own judge (not independent)")
    samples: int = Field(
        0,
        ge=0,
        description="also sample this many answers per prompt at the candidates' temperature / top_p and report "
        "their mean reference grade per model and paired per prompt (world oracle); 0 = greedy answers only",
    )
    bootstrap_samples: int = Field(2000, gt=0)
    alpaca_eval_results: str | None = Field(
        None, description="dir (or file) of alpaca_eval's leaderboard.csv / annotations.json to show beside ours"
    )


class Config(_Section):
    model: ModelSection
    data: DataSection = Field(default_factory=DataSection)
    sft: SFTSection = Field(default_factory=SFTSection)
    prompts: PromptsSection = Field(default_factory=PromptsSection)
    candidates: CandidatesSection = Field(default_factory=CandidatesSection)
    judge: JudgeSection = Field(default_factory=JudgeSection)
    pairs: PairsSection = Field(default_factory=PairsSection)
    dpo: DPOSection = Field(default_factory=DPOSection)
    loop: LoopSection = Field(default_factory=LoopSection)
    train: TrainSection = Field(default_factory=TrainSection)
    backend: BackendSection = Field(default_factory=BackendSection)
    eval: EvalSection = Field(default_factory=EvalSection)
    world: WorldSection | None = Field(None, description="build and use the built-in world (seed sets, oracle)")

    @property
    def ift_file(self) -> str:
        """data.ift, which validation guarantees (world runs fill it in)."""
        assert self.data.ift is not None
        return self.data.ift

    @property
    def world_dir(self) -> Path:
        return Path(self.loop.run_dir) / "world"

    @model_validator(mode="after")
    def _cross_checks(self) -> Config:
        if self.world is not None:
            # World runs read the seed sets `srlm run` builds into <run_dir>/world/.
            if self.data.ift is None:
                self.data.ift = str(self.world_dir / "ift.jsonl")
            if self.data.eft is None:
                name = "eft_model.jsonl" if self.world.eft_model_answers else "eft.jsonl"
                self.data.eft = str(self.world_dir / name)
            if not self.data.eval_prompts:
                self.data.eval_prompts = [
                    str(self.world_dir / "eval.jsonl"),
                    str(self.world_dir / "dev.jsonl"),
                ]
            if self.eval.judge_eval is None:
                self.eval.judge_eval = str(self.world_dir / "judge_eval.jsonl")
            if self.judge.template is None:
                self.judge.template = "world:judge"  # the world's judge prompt, in its own vocabulary
        if self.data.ift is None:
            raise ValueError("data.ift is required (or a `world:` section to use the built-in world)")
        if self.prompts.source == "file" and not self.prompts.path:
            raise ValueError("prompts.path is required when prompts.source is 'file'")
        if self.prompts.generated_shots > self.prompts.shots:
            raise ValueError("prompts.generated_shots cannot exceed prompts.shots")
        if self.prompts.min_words > self.prompts.max_words:
            raise ValueError("prompts.min_words cannot exceed prompts.max_words")
        if self.pairs.source == "oracle" and (self.world is None or self.pairs.mode != "pointwise"):
            raise ValueError("pairs.source 'oracle' needs a world run (the oracle grades) and pairs.mode 'pointwise'")
        if self.dpo.select is not None:
            self._check_select(self.dpo.select)
            if self.dpo.interpolation < 1:
                raise ValueError("dpo.interpolation < 1 and dpo.select together are not supported: choose one")
        pointwise_plain = self.pairs.mode == "pointwise" and self.pairs.length_control_rho is None
        if self.pairs.anchored_rejection and not pointwise_plain:
            raise ValueError("pairs.anchored_rejection needs pairs.mode 'pointwise' and no pairs.length_control_rho")
        for switch, on in (("loop.eft_replay", self.loop.eft_replay), ("loop.verdict_pairs", self.loop.verdict_pairs)):
            if on and (self.data.eft is None or self.loop.ift_only or self.dpo.method != "dpo"):
                needs = "EFT data (data.eft or a world), loop.ift_only off and dpo.method 'dpo'"
                raise ValueError(f"{switch} needs {needs}")
        for switch, on in (("dpo.consistency", self.dpo.consistency), ("loop.meta_judge", self.loop.meta_judge)):
            if on and (self.pairs.mode != "pointwise" or self.dpo.method != "dpo"):
                raise ValueError(f"{switch} needs pairs.mode 'pointwise' and dpo.method 'dpo' (it uses k judge scores)")
        return self

    def _check_select(self, select: SelectSettings) -> None:
        if select.judge == "oracle" and self.world is None:
            raise ValueError("dpo.select.judge 'oracle' needs a world run; use 'judge_model' with eval.judge_model")
        if select.judge == "judge_model" and not self.eval.judge_model:
            raise ValueError("dpo.select.judge 'judge_model' needs eval.judge_model")
        if select.prompts is None and self.world is None:
            raise ValueError("dpo.select.prompts is required outside world runs (held-out prompts, never eval)")
        held_out = {Path(p).resolve() for p in [*self.eval.prompts, *self.data.eval_prompts]}
        if select.prompts is not None and Path(select.prompts).resolve() in held_out:
            raise ValueError(f"dpo.select.prompts {select.prompts!r} is an evaluation file; selection must not see it")
        if self.dpo.method != "dpo" or self.train.launcher != "inprocess":
            raise ValueError("dpo.select needs dpo.method 'dpo' and train.launcher 'inprocess'")

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    def digest(self, *sections: str) -> str:
        """Stable hash of the named sections (all when none): what a stage's output depends on."""
        data = self.to_dict()
        if sections:
            data = {name: data[name] for name in sections}
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


# Settings that decide how the work runs, never what it produces: which server and port, how
# many requests in flight, how long to wait and retry, where answers are cached. A run reopened
# with other values is the same run, and the stage verbs take them with --set.
EXECUTION_KEYS = (
    "backend.base_url",
    "backend.urls",
    "backend.api_key_env",
    "backend.check_model",
    "backend.concurrency",
    "backend.max_retries",
    "backend.timeout_s",
    "backend.backoff_s",
    "backend.max_backoff_s",
    "backend.cache",
    "backend.health_timeout_s",
    "backend.stop_timeout_s",
    "backend.num_processes",
    "train.report_to",
    "train.project",
)


def execution_only(key: str, old: dict[str, Any], new: dict[str, Any]) -> bool:
    """Whether a dotted key differing between two config dicts leaves every result unchanged.

    `backend.batch_size` only groups requests on a server (each request is answered alone) unless
    `samples_per_request` > 1, where it decides which samples share a request; on engine hf it
    changes padding, hence the numbers.

    >>> server = {"backend": {"engine": "openai", "samples_per_request": 1}}
    >>> execution_only("backend.base_url", {}, {}), execution_only("backend.batch_size", server, server)
    (True, True)
    >>> execution_only("backend.batch_size", {"backend": {"engine": "hf"}}, server), execution_only("dpo.beta", {}, {})
    (False, False)
    """
    if key in EXECUTION_KEYS:
        return True
    if key == "backend.batch_size":
        sections = [cfg.get("backend") or {} for cfg in (old, new)]
        return all(b.get("engine") in ("openai", "server") and b.get("samples_per_request", 1) == 1 for b in sections)
    return False


def _parse_override(item: str) -> tuple[list[str], Any]:
    key, sep, raw = item.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"override {item!r}: expected KEY=VALUE, e.g. dpo.beta=0.2")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except (yaml.YAMLError, ValueError, RecursionError) as error:
        raise ConfigError(f"override {item!r}: the value is not valid YAML ({error})") from None
    return key.strip().split("."), value


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Set dotted keys (`dpo.beta=0.2`) in a config dict; values are parsed as YAML scalars."""
    for item in overrides:
        keys, value = _parse_override(item)
        node = data
        for key in keys[:-1]:
            child = node.setdefault(key, {})
            if not isinstance(child, dict):
                raise ConfigError(f"override {item!r}: {key} is not a section")
            node = child
        node[keys[-1]] = value
    return data


def _describe(error: ValidationError, source: str) -> str:
    lines = [f"invalid config ({source}):"]
    for err in error.errors():
        key = ".".join(str(part) for part in err["loc"]) or "(top level)"
        message = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
        lines.append(f"  {key}: {message}")
    return "\n".join(lines)


def config_from_dict(data: dict[str, Any], source: str = "<dict>") -> Config:
    try:
        return Config.model_validate(data)
    except ValidationError as error:
        raise ConfigError(_describe(error, source)) from None


def default_config_path() -> Path:
    """The shipped default config: the built-in world run (`srlm run` without a config)."""
    return Path(str(resources.files("srlm") / "configs" / "default.yaml"))


def load_config(path: str | Path, overrides: list[str] | None = None) -> Config:
    """Read a YAML config, apply `section.key=value` overrides, validate."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (yaml.YAMLError, ValueError, RecursionError) as error:  # ValueError: bad UTF-8, "2001-13-45"
        raise ConfigError(f"{path}: not valid YAML: {error}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of sections")
    return config_from_dict(apply_overrides(data, overrides or []), str(path))


def dump_config(cfg: Config) -> str:
    return yaml.safe_dump(cfg.to_dict(), sort_keys=False)
