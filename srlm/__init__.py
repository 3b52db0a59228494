"""srlm: Self-Rewarding Language Models — a language model that is its own reward model.

import srlm
cfg = srlm.load_config("my.yaml", ["loop.iterations=3"])
run_dir = srlm.run(cfg)
"""

from srlm.config import Config, ConfigError, load_config
from srlm.loop import run

__all__ = ["Config", "ConfigError", "load_config", "run"]
__version__ = "0.1.0"
