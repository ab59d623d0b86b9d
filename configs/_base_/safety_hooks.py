# Training-safety hooks that every GazePrior-MM config runs with (docs/distributed.md):
# * NaNGuardHook stops at the first NaN/Inf loss term, naming the iteration and
#   the term, before that state can be checkpointed;
# * RNGStateHook saves the random generators with each checkpoint and restores
#   them on resume, so a killed-and-resumed run equals an uninterrupted one.
# The third, AtomicCheckpointHook (saves survive a kill; the last good checkpoint
# is removed only after its successor is on disk), is default_hooks.checkpoint.
# default_runtime.py inherits this file; configs built on an mmpretrain config
# (the SimCLR / MoCo v2 baselines, which cannot also inherit default_runtime.py:
# mmengine forbids two bases setting the same key) list it as a second base. It
# sets only custom_hooks, which mmpretrain's runtime leaves unset. tools/train.py
# adds any of the three a config lacks.
custom_hooks = [dict(type='NaNGuardHook'), dict(type='RNGStateHook')]
