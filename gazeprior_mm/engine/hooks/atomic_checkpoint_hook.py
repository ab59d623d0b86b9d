"""Checkpoint hook whose saves survive a kill at any moment."""
import glob
import os
import os.path as osp

from mmengine.dist import is_main_process
from mmengine.fileio.backends import LocalBackend
from mmengine.hooks import CheckpointHook

from gazeprior_mm.registry import HOOKS
from gazeprior_mm.utils.checkpoint import (atomic_write_text, to_builtin,
                                           _fsync_file)


@HOOKS.register_module()
class AtomicCheckpointHook(CheckpointHook):
    """mmengine's ``CheckpointHook`` with crash-safe saving.

    mmengine writes ``iter_k.pth`` in place and deletes the oldest kept checkpoint
    *before* writing the new one, so a process killed mid-save can leave a
    truncated latest checkpoint (and, with ``max_keep_ckpts=1``, no good one at
    all). This hook, per save:

    1. writes the checkpoint to a hidden temp file in ``out_dir``, ``fsync``\\ s it
       and ``os.replace``\\ s it onto ``iter_k.pth`` (atomic on POSIX);
    2. then atomically rewrites the ``last_checkpoint`` pointer;
    3. only then removes checkpoints beyond ``max_keep_ckpts``.

    A kill at any point leaves ``last_checkpoint`` naming a complete, loadable file.
    Stale temp files of a killed save are removed at ``before_train``. It also turns
    numpy values in ``meta`` and the message hub's runtime info into plain Python
    before saving (fewer globals for the ``weights_only`` loader). Remote storage
    backends (no atomic rename) fall back to mmengine's behaviour.

    Args:
        **kwargs: as :class:`mmengine.hooks.CheckpointHook`. Use it in place of it::

            default_hooks = dict(checkpoint=dict(type='AtomicCheckpointHook',
                                                 interval=1000, by_epoch=False))
    """

    TMP_PREFIX = '.tmp-'

    def before_train(self, runner) -> None:
        super().before_train(runner)
        if self._is_local() and is_main_process():
            for stale in glob.glob(osp.join(self.out_dir, self.TMP_PREFIX + '*')):
                os.remove(stale)

    def _is_local(self) -> bool:
        return isinstance(self.file_backend, LocalBackend)

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        checkpoint['meta'] = to_builtin(checkpoint.get('meta', {}))
        hub = checkpoint.get('message_hub')
        if isinstance(hub, dict) and 'runtime_info' in hub:
            hub['runtime_info'] = to_builtin(hub['runtime_info'])

    def _save_checkpoint_with_step(self, runner, step, meta):
        if not self._is_local():
            return super()._save_checkpoint_with_step(runner, step, meta)

        # bookkeeping as mmengine, but the removal is deferred until after the save
        outdated = []
        if self.max_keep_ckpts > 0 and not (self.keep_ckpt_ids and
                                            self.keep_ckpt_ids[-1] == step):
            if len(self.keep_ckpt_ids) == self.max_keep_ckpts:
                outdated.append(self.keep_ckpt_ids.popleft())
            self.keep_ckpt_ids.append(step)
            runner.message_hub.update_info('keep_ckpt_ids',
                                           list(self.keep_ckpt_ids))

        ckpt_filename = self.filename_tmpl.format(step)
        self.last_ckpt = osp.join(self.out_dir, ckpt_filename)
        runner.message_hub.update_info('last_ckpt', self.last_ckpt)

        tmp_filename = f'{self.TMP_PREFIX}{os.getpid()}-{ckpt_filename}'
        runner.save_checkpoint(  # master_only: a no-op on other ranks
            self.out_dir,
            tmp_filename,
            self.file_client_args,
            save_optimizer=self.save_optimizer,
            save_param_scheduler=self.save_param_scheduler,
            meta=meta,
            by_epoch=self.by_epoch,
            backend_args=self.backend_args,
            **self.args)
        if not is_main_process():
            return

        tmp_path = osp.join(self.out_dir, tmp_filename)
        _fsync_file(tmp_path)
        os.replace(tmp_path, self.last_ckpt)
        atomic_write_text(self.last_ckpt,
                          osp.join(runner.work_dir, 'last_checkpoint'))
        for old_step in outdated:
            old_path = osp.join(self.out_dir, self.filename_tmpl.format(old_step))
            if old_path != self.last_ckpt and osp.isfile(old_path):
                os.remove(old_path)
