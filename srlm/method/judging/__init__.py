"""LLM-as-a-Judge: the rubric prompt file and the pure parser of its verdicts."""

from srlm.method.judging.parse import mean_score, parse_score
from srlm.method.judging.template import load_template, render_template

__all__ = ["load_template", "mean_score", "parse_score", "render_template"]
