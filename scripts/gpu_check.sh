#!/usr/bin/env bash
# One short check on a machine with one GPU where nothing can be downloaded: install the
# wheels carried in .whl/ (scripts/fetch_wheels.sh), install srlm without dependencies, run
# the default world run on the GPU with the HF backend at a small size, and print each
# stage's seconds (from its manifest) and generated tokens/s. Run from the repository root:
#   scripts/gpu_check.sh [RUN_DIR]        (default runs/gpu-check; about 5-10 minutes)
set -euo pipefail
RUN_DIR="${1:-runs/gpu-check}"
PYTHON="${PYTHON:-python}"
"$PYTHON" -m pip install --quiet --no-index --find-links .whl/ trl datasets typer rich pydantic scipy \
  matplotlib rouge-score httpx
"$PYTHON" -m pip install --quiet --no-deps -e .
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
# Small: 100 prompts per iteration, 1 iteration, 300 evaluation prompts.
# Exit status 3: the iteration stopped early (no usable pair); the timings are still worth printing.
"$PYTHON" -m srlm run --set backend.device=cuda --set backend.engine=hf --set loop.iterations=1 \
  --set prompts.n=100 --set eval.max_prompts=300 --set "loop.run_dir=$RUN_DIR" || [ $? -eq 3 ]
"$PYTHON" - "$RUN_DIR" <<'PY'
import json, sys
from pathlib import Path
from transformers import AutoTokenizer

run = Path(sys.argv[1])
tokenizer = AutoTokenizer.from_pretrained(run / "m1")
def tokens(texts): return sum(len(tokenizer(t, add_special_tokens=False)["input_ids"]) for t in texts)
def generated(artifact):
    rows = [json.loads(line) for line in artifact.read_text().splitlines() if line.strip()]
    if artifact.name == "candidates.jsonl":
        return tokens(r["response"] for r in rows)
    if artifact.name == "judgments.jsonl":
        return tokens(s["text"] for r in rows for s in r["samples"])
    return None
print(f"{'stage':<24}{'rows':>8}{'seconds':>10}{'gen tokens/s':>14}")
for path in sorted(run.rglob("*.manifest.json")):
    m = json.loads(path.read_text())
    artifact = path.with_name(path.name.removesuffix(".manifest.json"))
    n = generated(artifact) if artifact.is_file() else None
    rate = f"{n / m['seconds']:,.0f}" if n and m.get("seconds") else "-"
    print(f"{m['stage']:<24}{m.get('rows', '-')!s:>8}{m.get('seconds', 0):>10.1f}{rate:>14}")
PY
