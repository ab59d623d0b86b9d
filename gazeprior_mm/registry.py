"""Registries of GazePrior-MM.

The plugin registers straight into mmpretrain's registries, so configs name its
components under the default ``mmpretrain`` scope (``type='GWCLHead'``) exactly like
mmpretrain's own ones, and ``custom_imports=dict(imports=['gazeprior_mm'])`` is the
only thing a config needs to use them.

mmpretrain has no ``FUNCTIONS`` registry of its own: collate functions
(``collate_fn=dict(type='gaze_collate')``) go into mmengine's, where
``Runner.build_dataloader`` looks them up next to ``default_collate``.
"""
from mmengine.registry import FUNCTIONS
from mmpretrain.registry import (DATA_SAMPLERS, DATASETS, EVALUATORS, HOOKS,
                                 LOOPS, METRICS, MODELS, OPTIM_WRAPPERS,
                                 TRANSFORMS, VISBACKENDS, VISUALIZERS)

__all__ = [
    'DATA_SAMPLERS', 'DATASETS', 'EVALUATORS', 'FUNCTIONS', 'HOOKS', 'LOOPS',
    'METRICS', 'MODELS', 'OPTIM_WRAPPERS', 'TRANSFORMS', 'VISBACKENDS',
    'VISUALIZERS'
]
