#!/usr/bin/env bash
# Download the wheels scripts/gpu_check.sh installs on a GPU machine that cannot download:
# trl and datasets (torch, transformers, accelerate and peft are already there) and the
# packages they and srlm need beyond those. Run on a machine with network access, from the
# repository root; the wheels land in .whl/ (git-ignored).
#   scripts/fetch_wheels.sh [PYTHON_VERSION]   (default 3.11, the GPU machine's Python)
set -euo pipefail
PY="${1:-3.11}"
mkdir -p .whl
# --no-deps: exactly this list; each name is a dependency of trl, datasets or srlm that a
# torch + transformers + accelerate + peft environment may lack. pip on the GPU machine
# resolves among these and what is installed, and names anything still missing.
pip download --no-deps --only-binary=:all: --python-version "$PY" --dest .whl \
  trl datasets \
  dill multiprocess xxhash pyarrow fsspec pandas tzdata python-dateutil pytz \
  typer rich click shellingham markdown-it-py mdurl pygments \
  pydantic pydantic-core annotated-types typing-inspection \
  scipy matplotlib contourpy cycler fonttools kiwisolver pillow pyparsing \
  rouge-score absl-py nltk joblib regex click \
  httpx httpcore h11 anyio sniffio certifi idna
ls .whl | wc -l
