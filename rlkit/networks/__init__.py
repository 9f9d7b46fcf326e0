from rlkit.networks.actor_critic import ActorCritic
from rlkit.networks.encoders import MLP, NatureCNN, TwinMLP, is_image_space, layer_init, make_encoder
from rlkit.networks.heads import CategoricalHead, DiagGaussianHead, ValueHead, make_policy_head

__all__ = [
    "ActorCritic",
    "MLP", "NatureCNN", "TwinMLP", "is_image_space", "layer_init", "make_encoder",
    "CategoricalHead", "DiagGaussianHead", "ValueHead", "make_policy_head",
]
