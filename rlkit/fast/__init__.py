"""Performance paths: same maths as the plain modules, tested against them.

- ``rlkit.fast.cnn``: NatureCNN's CPU paths (patch products for one uint8 stack, the dense layer's
  product and in-place weight gradient, activations recorded over a rollout), channels-last helpers.
- ``rlkit.fast.numpy_mirror``: ``NumpyActorCritic``, a twin-MLP actor-critic's forward pass in NumPy
  for CPU rollouts.

The network definitions in ``rlkit.networks`` call into these; agents need not know they exist.
Nothing is imported here, so ``rlkit.networks`` and this package can import each other's modules.
"""
