"""Models as Hugging Face dirs: loading and saving them, importing a GGUF, and `srlm model`.

loading.py   load / save causal LMs the way every stage needs them (safetensors only, no remote code)
gguf.py      a GGUF causal LM -> a float32 HF model dir, checked by greedy generation
cli.py       `srlm model import`
"""
