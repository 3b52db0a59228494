"""Data in and out: JSONL rows, seed sets from Open Assistant, EFT, decontamination, alpaca_eval files.

io.py            reading rows (named errors), atomic writes, partial files
oasst.py         Open Assistant message trees -> IFT rows and EFT candidates
eft.py           EFT the paper's way: the SFT baseline judges ranked answers (eft_filter.py: the filter)
decontaminate.py held-out prompts, and seed rows that match them
alpaca_eval.py   answers exported for alpaca_eval, its results read back
cli.py           `srlm data`
"""
