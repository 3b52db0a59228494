"""`srlm bench`: speed ratios of generation, judging and training, measured side by side.

suite.py       the command: sections, the results table and JSON, the reduced end-to-end run
timing.py      sizes, interleaved timing rounds, ratios and line fits
generation.py  naive / batched / engine generation and the shared judge prefill
training.py    a DPO step vs an SFT step per token
"""
