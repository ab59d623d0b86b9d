"""Registries of GazePrior-MM.

The plugin registers straight into mmpretrain's registries, so configs name its
components under the default ``mmpretrain`` scope (``type='GWCLHead'``) exactly like
mmpretrain's own ones, and ``custom_imports=dict(imports=['gazeprior_mm'])`` is the
only thing a config needs to use them.
"""
from mmpretrain.registry import (DATA_SAMPLERS, DATASETS, EVALUATORS, HOOKS,
                                 LOOPS, METRICS, MODELS, OPTIM_WRAPPERS,
                                 TRANSFORMS, VISBACKENDS, VISUALIZERS)

__all__ = [
    'DATA_SAMPLERS', 'DATASETS', 'EVALUATORS', 'HOOKS', 'LOOPS', 'METRICS',
    'MODELS', 'OPTIM_WRAPPERS', 'TRANSFORMS', 'VISBACKENDS', 'VISUALIZERS'
]
