"""The training stages: SFT and DPO with TRL, checkpoint selection, and the `accelerate launch` launcher.

sft.py       M1 = SFT(M0, IFT ∪ EFT), and the IFT-only baseline
dpo.py       M(t+1) = DPO(M(t), pairs of iteration t), and the SFT-on-the-best ablation
select.py    dpo.select: a stronger judge picks M(t+1) among DPO's checkpoints
common.py    what both share: start model, LoRA, trainer arguments, promoting the trained model
launch.py    train.launcher: accelerate: the stage runs under `accelerate launch -m srlm.training`
__main__.py  the entry each launched process runs
"""
