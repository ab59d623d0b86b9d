from .gaze_balanced_sampler import GazeBalancedSampler  # noqa: F401
