"""Export the backbone of a pre-training checkpoint as a plain state dict.

A GazePrior-MM checkpoint (mmengine's ``{"meta", "state_dict", "message_hub",
"optimizer", ...}``) loads under ``torch.load(weights_only=True)`` only after
``import gazeprior_mm`` installs its allow-list, and its backbone sits under the
``backbone.`` prefix next to the neck (GGAM: ``neck.w_g``, ``neck.b_g``, ...) and the
head. Users of plain mmpretrain / torch want the backbone alone. This tool writes:

* ``OUT`` (e.g. ``backbone.pth``): ``{name: tensor}``, the backbone's parameters and
  buffers without the ``backbone.`` prefix, nothing else (loads with
  ``torch.load(OUT, weights_only=True)`` anywhere, and with mmpretrain's
  ``init_cfg=dict(type='Pretrained', checkpoint=OUT)``, no ``prefix``);
* ``OUT`` with ``.json`` (e.g. ``backbone.json``): the backbone config (an
  mmpretrain ``MODELS`` config), the data preprocessor's mean/std and the source
  checkpoint, so that ``mmpretrain.registry.MODELS.build(meta['backbone'])`` gives
  the module these weights fit with ``strict=True``.

Before writing, the tool builds that backbone and loads the weights with
``strict=True`` (a mismatch is reported here, not in the user's code).

Example::

    python tools/analysis/export_backbone.py work_dirs/demo_gazeprior/epoch_2.pth \\
        --out work_dirs/demo_gazeprior/backbone.pth

    # later, without gazeprior_mm:
    from mmengine.registry import init_default_scope
    from mmpretrain.registry import MODELS
    import json, torch
    init_default_scope('mmpretrain')
    meta = json.load(open('backbone.json'))
    model = MODELS.build(meta['backbone'])
    model.load_state_dict(torch.load('backbone.pth', weights_only=True))
"""
import argparse
import json
import os.path as osp
from collections import OrderedDict

import torch
from mmengine.config import Config

PREFIX = 'backbone.'


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('checkpoint', help='a pre-training checkpoint')
    parser.add_argument('--out', required=True,
                        help='the plain state dict to write (.pth); the '
                        'backbone config goes next to it as .json')
    parser.add_argument('--config', default=None,
                        help='the pre-training config (default: the config '
                        'stored in the checkpoint\'s meta)')
    return parser.parse_args(argv)


def sidecar_path(out: str) -> str:
    """``backbone.pth`` -> ``backbone.json``."""
    return osp.splitext(out)[0] + '.json'


def _config(checkpoint: dict, config: str = None) -> Config:
    if config is not None:
        return Config.fromfile(config)
    text = (checkpoint.get('meta') or {}).get('cfg')
    if not text:
        raise ValueError('the checkpoint stores no config (meta["cfg"]); pass '
                         '--config with the pre-training config')
    return Config.fromstring(text, file_format='.py')


def backbone_state_dict(state_dict: dict) -> 'OrderedDict[str, torch.Tensor]':
    """The ``backbone.*`` entries, prefix removed, as plain contiguous tensors
    (no ``nn.Parameter``, no shared storage with the rest of the model)."""
    out = OrderedDict()
    for key, value in state_dict.items():
        if key.startswith(PREFIX) and torch.is_tensor(value):
            out[key[len(PREFIX):]] = value.detach().clone().contiguous()
    if not out:
        raise ValueError(f'no "{PREFIX}*" tensors in the checkpoint (keys '
                         f'start with {sorted({k.split(".")[0] for k in state_dict})})')
    return out


def export_backbone(checkpoint: str, out: str, config: str = None) -> dict:
    """Write ``out`` and its JSON side-car; return the side-car's content.

    Raises:
        ValueError: the checkpoint has no ``backbone.*`` tensors or no config.
        RuntimeError: the weights do not fit the configured backbone
            (``strict=True``; names the missing / unexpected keys).
    """
    import gazeprior_mm  # noqa: F401  (allow-list, registries)
    from mmengine.registry import init_default_scope

    from gazeprior_mm.registry import MODELS
    from gazeprior_mm.utils.checkpoint import (atomic_torch_save,
                                               atomic_write_text,
                                               load_checkpoint_safely,
                                               to_builtin)
    ckpt = load_checkpoint_safely(checkpoint)
    state = ckpt.get('state_dict', ckpt)
    weights = backbone_state_dict(state)
    cfg = _config(ckpt, config)
    backbone_cfg = to_builtin(cfg.model.backbone.to_dict())
    backbone_cfg['init_cfg'] = None
    init_default_scope('mmpretrain')
    module = MODELS.build(backbone_cfg)
    module.load_state_dict(weights, strict=True)  # fails here, naming keys
    preprocessor = cfg.model.get('data_preprocessor') or {}
    meta = dict(
        backbone=backbone_cfg,
        scope='mmpretrain',
        data_preprocessor={k: to_builtin(preprocessor[k])
                           for k in ('mean', 'std', 'to_rgb')
                           if k in preprocessor},
        source_checkpoint=osp.abspath(checkpoint),
        source_model=cfg.model.get('type'),
        num_tensors=len(weights),
        num_parameters=int(sum(p.numel() for p in module.parameters())),
        usage='mmpretrain.registry.MODELS.build(meta["backbone"])'
              '.load_state_dict(torch.load(weights, weights_only=True))')
    text = json.dumps(meta, indent=2)
    atomic_torch_save(dict(weights), out)
    atomic_write_text(text, sidecar_path(out))
    return json.loads(text)  # exactly what the side-car holds


def main(argv=None):
    args = parse_args(argv)
    meta = export_backbone(args.checkpoint, args.out, args.config)
    print(f'[export_backbone] weights : {osp.abspath(args.out)} '
          f'({meta["num_tensors"]} tensors, {meta["backbone"]["type"]})')
    print(f'[export_backbone] config  : {osp.abspath(sidecar_path(args.out))}')
    return meta


if __name__ == '__main__':
    main()
