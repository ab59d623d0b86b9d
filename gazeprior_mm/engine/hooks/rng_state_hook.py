"""Save the random number generators with each checkpoint and restore them on resume."""
import random
from typing import Optional

import numpy as np
import torch
from mmengine.hooks import Hook
from mmengine.runner import IterBasedTrainLoop

from gazeprior_mm.registry import HOOKS


def get_rng_state() -> dict:
    """Python, numpy, torch (and CUDA) generator states as plain Python / tensors.

    numpy's key array is stored as a list, so the state needs no numpy global when
    loaded with ``weights_only=True``.
    """
    name, keys, pos, has_gauss, gauss = np.random.get_state()
    state = dict(
        python=random.getstate(),
        numpy=(name, keys.tolist(), int(pos), int(has_gauss), float(gauss)),
        torch=torch.get_rng_state())
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state['cuda'] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    """Inverse of :func:`get_rng_state`."""
    version, internal, gauss = state['python']
    random.setstate((version, tuple(internal), gauss))
    name, keys, pos, has_gauss, cached = state['numpy']
    np.random.set_state((name, np.asarray(keys, dtype=np.uint32), pos,
                         has_gauss, cached))
    torch.set_rng_state(state['torch'])
    if 'cuda' in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state['cuda'])


class _RestoreAfter:
    """Iterator proxy that calls ``callback`` right after its ``n``-th item."""

    def __init__(self, iterator, n: int, callback):
        self._iterator, self._left, self._callback = iterator, n, callback
        if n == 0:
            callback()

    def __iter__(self):
        return self

    def __next__(self):
        item = next(self._iterator)
        self._left -= 1
        if self._left == 0:
            self._callback()
        return item

    def __getattr__(self, name):
        return getattr(self._iterator, name)


@HOOKS.register_module()
class RNGStateHook(Hook):
    """Make a resumed run draw the same random numbers as an uninterrupted one.

    mmengine checkpoints hold no generator state: after ``resume`` the process
    re-seeds, so random augmentations in the main process (``num_workers=0``),
    dropout / drop-path, random masks, GzPT's pair dropping etc. differ from the
    run that was interrupted. This hook stores rank 0's Python/numpy/torch(/CUDA)
    generator states in ``checkpoint['rng_state']`` at save time, and restores them
    on resume at the point the interrupted run was at when it saved:

    * epoch-based loops: at ``before_train_epoch`` of the resumed epoch;
    * iteration-based loops: right after mmengine's loop has skipped the ``k``
      already-trained batches (whose loading in the main process also consumes
      random numbers), via a proxy around ``train_loop.dataloader_iterator``.

    Dataloader workers (``num_workers > 0``) are seeded by mmengine per worker and
    are replayed by that skip; their state is not saved. With
    ``randomness.diff_rank_seed=True`` ranks have different streams and only rank
    0's is saved, so the hook warns and does not restore.

    Args:
        restore (bool): restore on resume. Defaults to True.
    """

    priority = 'VERY_HIGH'

    def __init__(self, restore: bool = True):
        self.restore = restore
        self._pending: Optional[dict] = None

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        checkpoint['rng_state'] = get_rng_state()

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        state = checkpoint.get('rng_state')
        if not self.restore or state is None:
            return
        if runner.cfg.get('randomness', {}).get('diff_rank_seed', False):
            runner.logger.warning(
                'RNGStateHook: diff_rank_seed=True, rank streams differ; the '
                'saved (rank 0) state is not restored')
            return
        self._pending = state

    def before_train_epoch(self, runner) -> None:
        if self._pending is None:
            return
        state, self._pending = self._pending, None
        loop = runner.train_loop
        if isinstance(loop, IterBasedTrainLoop):
            # mmengine skips loop.iter batches after this hook; restore after them
            loop.dataloader_iterator = _RestoreAfter(
                loop.dataloader_iterator, loop.iter,
                lambda: set_rng_state(state))
        else:
            set_rng_state(state)
