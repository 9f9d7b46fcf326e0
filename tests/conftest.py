import os
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("PYTHONHASHSEED", "0")
torch.set_num_threads(1)

ZOO_CARTPOLE = dict(num_envs=8, n_steps=32, batch_size=256, n_epochs=20, gamma=0.98, gae_lambda=0.8,
                    learning_rate=1e-3, anneal_lr=True, anneal_clip_range=True, ent_coef=0.0)


@pytest.fixture
def zoo_cartpole():
    return dict(ZOO_CARTPOLE)
