"""Evaluation stages on a pre-trained checkpoint, shared by the analysis tools.

``tools/analysis/anomaly_detection.py``, ``tools/analysis/gaze_alignment.py`` and
``tools/compare.py`` all need the same steps: turn a *pre-training* config into a
frozen probe backbone loaded from its checkpoint, build single-view evaluation
dataloaders on the same data, and run one evaluation. They live here once.
"""
import copy
import json
import os
import os.path as osp
from typing import Dict, Optional

import numpy as np
import torch
from mmengine.config import Config, ConfigDict
from mmengine.registry import DefaultScope
from mmengine.runner import Runner, load_state_dict

from gazeprior_mm.registry import MODELS
from .anomaly import anomaly_auc
from .attention import model_saliency
from .embeddings import extract_embeddings, pooled_embedding
from .logistic_probe import logistic_probe_auc
from .metrics.gaze_alignment import GazeAlignmentMetric

#: single-view evaluation data (GazeCXRDataset + PackGazeInputs with V = 1)
DEFAULT_DATA_CONFIG = osp.join(
    osp.dirname(__file__), '..', '..', 'configs', '_base_', 'datasets',
    'synthetic_linear.py')
NORMAL_CLASS = 'No Finding'


def ensure_scope() -> None:
    """Make ``mmpretrain`` the default registry scope (as a Runner would)."""
    if DefaultScope.get_current_instance() is None:
        DefaultScope.get_instance('gazeprior_mm_eval', scope_name='mmpretrain')


def probe_preprocessor_cfg(pretrain_cfg: Config) -> dict:
    """ClsDataPreprocessor with the pre-training normalisation (mean/std/rgb)."""
    src = pretrain_cfg.model.get('data_preprocessor') or {}
    return dict(
        type='ClsDataPreprocessor',
        mean=list(src.get('mean', [123.675, 116.28, 103.53])),
        std=list(src.get('std', [58.395, 57.12, 57.375])),
        to_rgb=src.get('to_rgb', src.get('bgr_to_rgb', True)))


def probe_backbone_cfg(pretrain_cfg: Config,
                       checkpoint: Optional[str] = None) -> dict:
    """The pre-training backbone, frozen, as a probe backbone config.

    ViTs output the average of the patch tokens (``out_type='avg_featmap'``:
    patch-level objectives such as GWCL never train a CLS token); all stages are
    frozen (BatchNorm in eval mode for CNNs). With ``checkpoint`` an
    ``init_cfg=Pretrained(prefix='backbone.')`` loads the weights.
    """
    backbone = copy.deepcopy(pretrain_cfg.model.backbone)
    backbone = backbone.to_dict() if isinstance(backbone, ConfigDict) \
        else dict(backbone)
    ensure_scope()
    probe = MODELS.build(dict(backbone, init_cfg=None))
    if hasattr(probe, 'layers') and hasattr(probe, 'out_type'):  # ViT
        backbone.update(out_type='avg_featmap', frozen_stages=len(probe.layers))
    elif hasattr(probe, 'res_layers'):  # ResNet family
        backbone.update(frozen_stages=len(probe.res_layers), norm_eval=True)
    backbone['init_cfg'] = None if checkpoint is None else dict(
        type='Pretrained', checkpoint=checkpoint, prefix='backbone.')
    return backbone


def embedding_dim(backbone_cfg: dict, img_size: int) -> int:
    """Feature size of ``pooled_embedding`` for a (1, 3, S, S) input."""
    ensure_scope()
    backbone = MODELS.build(dict(backbone_cfg, init_cfg=None))
    backbone.eval()
    with torch.no_grad():
        return int(pooled_embedding(backbone,
                                    torch.zeros(1, 3, img_size,
                                                img_size)).shape[1])


def build_frozen_backbone(backbone_cfg: dict,
                          checkpoint: Optional[str]) -> torch.nn.Module:
    """Build a backbone and load ``backbone.*`` weights of a checkpoint.

    Only the backbone's keys are handed over (a pre-training checkpoint also
    holds neck / head weights the probe has no place for: no "unexpected key"
    noise); keys the probe backbone has and the checkpoint lacks (a ViT's
    ``avg_featmap`` norm ``ln2``) are still reported by mmengine.
    """
    from gazeprior_mm.utils.checkpoint import load_checkpoint_safely
    ensure_scope()
    backbone = MODELS.build(dict(backbone_cfg, init_cfg=None))
    if checkpoint:
        state = load_checkpoint_safely(checkpoint)
        state = state.get('state_dict', state)
        load_state_dict(backbone, {k[len('backbone.'):]: v
                                   for k, v in state.items()
                                   if k.startswith('backbone.')},
                        strict=False)
    backbone.eval()
    for param in backbone.parameters():
        param.requires_grad_(False)
    return backbone


def eval_dataloader_cfg(data_cfg: Config,
                        split: str,
                        data_root: Optional[str] = None,
                        batch_size: int = 32) -> dict:
    """A single-view, unshuffled dataloader config for ``split``.

    The test pipeline of ``data_cfg`` is used for every split (no augmentation),
    with the ``ann_file`` of that split's dataloader (``train``/``val``/``test``).
    """
    test = copy.deepcopy(data_cfg.test_dataloader)
    source = copy.deepcopy(data_cfg[f'{split}_dataloader'])
    dataset = source.dataset
    while dataset.get('type') in ('LabelFractionDataset', 'RepeatDataset',
                                  'ClassBalancedDataset'):
        dataset = dataset.dataset
    dataset = dict(dataset)
    dataset['pipeline'] = test.dataset.pipeline
    if data_root is not None:
        dataset['data_root'] = data_root
    return dict(
        batch_size=batch_size,
        num_workers=0,
        persistent_workers=False,
        sampler=dict(type='DefaultSampler', shuffle=False),
        collate_fn=dict(type='default_collate'),
        dataset=dataset)


def build_eval_dataloader(data_cfg: Config, split: str,
                          data_root: Optional[str] = None,
                          batch_size: int = 32):
    ensure_scope()
    return Runner.build_dataloader(
        eval_dataloader_cfg(data_cfg, split, data_root, batch_size))


def frozen_backbone_and_data(config: str, checkpoint: str, data_config: str,
                             data_root: Optional[str] = None):
    """What the frozen-embedding tools need from a pre-training run.

    Returns:
        tuple: the frozen backbone of ``config`` with ``checkpoint``'s weights, its
        classifier data preprocessor, and the train / test loaders of
        ``data_config`` (single view, its test pipeline).
    """
    cfg = Config.fromfile(config)
    data_cfg = Config.fromfile(data_config)
    backbone = build_frozen_backbone(probe_backbone_cfg(cfg), checkpoint)
    preprocessor = MODELS.build(probe_preprocessor_cfg(cfg))
    return (backbone, preprocessor,
            build_eval_dataloader(data_cfg, 'train', data_root),
            build_eval_dataloader(data_cfg, 'test', data_root))


def add_frozen_eval_args(parser) -> None:
    """The arguments every frozen-backbone tool takes: the pre-training config,
    its checkpoint, the single-view data config and a data-root override."""
    parser.add_argument('config', help='the pre-training config')
    parser.add_argument('checkpoint', help='its checkpoint (backbone.* keys)')
    parser.add_argument('--data-config', default=DEFAULT_DATA_CONFIG,
                        help='config with single-view train/test dataloaders')
    parser.add_argument('--data-root', help='override the datasets\' data_root')


def report(result: dict, out: Optional[str] = None) -> dict:
    """Print ``result`` as one JSON line and write it to ``out`` (if given)."""
    print(json.dumps(result))
    if out:
        os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
        with open(out, 'w') as f:
            json.dump(result, f, indent=2)
    return result


def is_abnormal(gt_score: np.ndarray, classes) -> np.ndarray:
    """(N,) bool: any positive finding other than ``No Finding``."""
    classes = list(classes)
    findings = np.ones(len(classes), dtype=bool)
    if NORMAL_CLASS in classes:
        findings[classes.index(NORMAL_CLASS)] = False
    return (np.asarray(gt_score)[:, findings] == 1).any(1)


def run_anomaly(backbone: torch.nn.Module, preprocessor: torch.nn.Module,
                train_loader, test_loader, method: str = 'ocsvm') -> Dict:
    """Fit on the normal training images, AUC on the test split."""
    train = extract_embeddings(backbone, preprocessor, train_loader)
    test = extract_embeddings(backbone, preprocessor, test_loader)
    classes = train_loader.dataset.metainfo['classes']
    normal = ~is_abnormal(train['gt_score'], classes)
    out = anomaly_auc(train['embeddings'][normal], test['embeddings'],
                      is_abnormal(test['gt_score'], classes), method=method)
    out['num_train_normal'] = float(normal.sum())
    return out


def run_logistic_probe(backbone: torch.nn.Module, preprocessor: torch.nn.Module,
                       train_loader, test_loader,
                       scores_out: Optional[str] = None) -> Dict:
    """Converged per-class logistic regression on frozen embeddings
    (:func:`~gazeprior_mm.evaluation.logistic_probe.logistic_probe_auc`).

    With ``scores_out`` the per-image test scores are saved there (``.npz``:
    ``scores`` (N, C), ``labels`` (N, C), ``img_ids`` (N,), ``classes``) for
    paired comparisons between runs on the same test split.
    """
    train = extract_embeddings(backbone, preprocessor, train_loader)
    test = extract_embeddings(backbone, preprocessor, test_loader)
    classes = train_loader.dataset.metainfo['classes']
    out = logistic_probe_auc(train['embeddings'], train['gt_score'],
                             test['embeddings'], test['gt_score'], classes,
                             return_scores=True)
    scores = out.pop('scores')
    if scores_out:
        ids = [str(test_loader.dataset.get_data_info(i)['img_id'])
               for i in range(len(test_loader.dataset))]
        os.makedirs(osp.dirname(osp.abspath(scores_out)), exist_ok=True)
        np.savez(scores_out, scores=scores,
                 labels=np.asarray(test['gt_score']), img_ids=np.asarray(ids),
                 classes=np.asarray(list(classes)))
    out['num_train'] = float(len(train['embeddings']))
    return out


@torch.no_grad()
def run_alignment(backbone: torch.nn.Module,
                  preprocessor: torch.nn.Module,
                  loader,
                  method: str = 'auto',
                  emd_grid: int = 8,
                  max_images: Optional[int] = None,
                  keep: int = 0,
                  saliency_fn=None) -> Dict:
    """Gaze-alignment metrics over a loader; optionally keep ``keep`` examples.

    The saliency is the backbone's (``model_saliency``, ``method``), or
    ``saliency_fn(inputs) -> (N, H, W)`` when given (e.g. a predicted gaze map).

    Returns:
        dict: ``metrics`` (``GazeAlignmentMetric`` output without prefix) and
        ``examples``: up to ``keep`` dicts (image, gaze_map, saliency, scores,
        lesion boxes in the view) for figures.
    """
    metric = GazeAlignmentMetric(emd_grid=emd_grid, prefix='')
    metric.dataset_meta = loader.dataset.metainfo
    examples, seen = [], 0
    for batch in loader:
        raw_images = batch['inputs']
        batch = preprocessor(batch, False)
        if saliency_fn is not None:
            saliency = saliency_fn(batch['inputs'])
        else:
            with torch.enable_grad():  # Grad-CAM needs gradients
                saliency = model_saliency(backbone, batch['inputs'], method)
        samples = batch['data_samples']
        dicts = []
        for sample, sal in zip(samples, saliency):
            sample.set_field(sal.detach().cpu(), 'saliency_map',
                             field_type='data')
            dicts.append(sample.to_dict())
        start = len(metric.results)
        metric.process(None, dicts)
        for i, sample in enumerate(dicts):
            if len(examples) < keep and sample.get('has_gaze') is not None:
                examples.append(_example(raw_images[i], sample,
                                         metric.results[start + i]))
        seen += len(dicts)
        if max_images is not None and seen >= max_images:
            break
    metrics = metric.compute_metrics(metric.results)
    return dict(metrics=metrics, examples=examples)


def _example(raw_image, sample: dict, scores: dict) -> dict:
    from .metrics.gaze_alignment import boxes_to_view
    image = raw_image.cpu().numpy().transpose(1, 2, 0)
    gaze_map = np.asarray(sample['gaze_map'])
    gaze_map = gaze_map[0] if gaze_map.ndim == 3 else gaze_map
    has_gaze = bool(np.asarray(sample.get('has_gaze', True)).ravel()[0])
    boxes = None
    if sample.get('lesions'):
        boxes = np.array([les['bbox'] for les in sample['lesions']],
                         dtype=np.float64)
        if 'crop_box' in sample:
            crop = np.asarray(sample['crop_box']).reshape(-1, 4)[0]
            flip = bool(np.asarray(sample.get('flip', False)).ravel()[0])
            boxes = boxes_to_view(boxes, crop, flip, gaze_map.shape)
    return dict(
        img_id=str(sample.get('img_id', sample.get('sample_idx'))),
        image=image,
        gaze_map=gaze_map if has_gaze else None,
        saliency=np.asarray(sample['saliency_map']),
        boxes=boxes,
        scores={k: v for k, v in scores.items() if np.isfinite(v)})


def pretraining_model_and_loader(config: str,
                                 checkpoint: Optional[str] = None,
                                 data_root: Optional[str] = None,
                                 batch_size: Optional[int] = None):
    """A pre-training config's model (``checkpoint``'s weights, else its
    initialisation) and its training loader (the config's pipeline and collate,
    in-process, seeded), for tools that look inside a training step.

    Returns:
        tuple: ``(model, loader, cfg)``.
    """
    from gazeprior_mm.utils.checkpoint import load_checkpoint_safely
    ensure_scope()
    cfg = Config.fromfile(config)
    loader_cfg = cfg.train_dataloader
    if data_root:
        loader_cfg.dataset.data_root = data_root
    if batch_size:
        loader_cfg.batch_size = batch_size
    loader_cfg.num_workers, loader_cfg.persistent_workers = 0, False
    loader = Runner.build_dataloader(loader_cfg, seed=0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    if checkpoint:
        model.load_state_dict(load_checkpoint_safely(checkpoint)['state_dict'])
    return model, loader, cfg


def run_gaze_prediction(config: str, checkpoint: str, data_config: str,
                        data_root: Optional[str] = None) -> Dict:
    """Score a GazePrior model's predicted gaze against the recorded gaze of the
    test split (images it never saw with gaze): Spearman rho and NSS on the gaze
    grid, EMD between the maps (:class:`GazeAlignmentMetric`, with the
    prediction upsampled as the saliency). Next to it the same scores of the
    *mean* training gaze map used for every image (``mean_gaze_*``): a branch
    that only learnt where readers look on average scores no better.

    Returns:
        dict: ``available`` (False for a model without a gaze-prediction branch,
        then nothing else), the metric's ``spearman``, ``nss``, ``emd``,
        ``num_*``, and ``mean_gaze_spearman``, ``mean_gaze_nss``,
        ``mean_gaze_emd``.
    """
    cfg = Config.fromfile(config)
    model = gaze_predicting_model(cfg, checkpoint)
    if model is None:
        return dict(available=False)
    grid = model.grid

    @torch.no_grad()
    def predicted_map(inputs: torch.Tensor) -> torch.Tensor:
        pred = model.predict_gaze(inputs).view(-1, 1, grid, grid)
        return torch.nn.functional.interpolate(
            pred, size=inputs.shape[-2:], mode='nearest')[:, 0]

    data_cfg = Config.fromfile(data_config)
    preprocessor = MODELS.build(probe_preprocessor_cfg(cfg))
    test_loader = build_eval_dataloader(data_cfg, 'test', data_root)
    out = run_alignment(model.backbone, preprocessor, test_loader,
                        saliency_fn=predicted_map)['metrics']
    train_gaze = [torch.as_tensor(s.gaze_weights).reshape(-1)
                  for batch in build_eval_dataloader(data_cfg, 'train', data_root)
                  for s in batch['data_samples'] if bool(
                      torch.as_tensor(s.has_gaze).reshape(-1)[0])]
    mean_gaze = torch.stack(train_gaze).mean(0)
    side = int(round(mean_gaze.numel() ** 0.5))
    # at the model's grid and upsampled as the prediction is: same resolution
    mean_gaze = torch.nn.functional.adaptive_avg_pool2d(
        mean_gaze.view(1, 1, side, side), grid)

    def mean_map(inputs: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.interpolate(
            mean_gaze.expand(len(inputs), 1, grid, grid),
            size=inputs.shape[-2:], mode='nearest')[:, 0]

    base = run_alignment(model.backbone, preprocessor, test_loader,
                         saliency_fn=mean_map)['metrics']
    out = {k: v for k, v in out.items() if 'pointing' not in k}
    out.update({f'mean_gaze_{k}': base[k] for k in ('spearman', 'nss', 'emd')})
    return dict(out, available=True)


class GazeGatedFeatures(torch.nn.Module):
    """A GazePrior model's GGAM-gated patch tokens as a frozen "backbone":
    images -> (N, P, C) tokens gated with the model's *predicted* gaze (no
    recorded gaze exists for a downstream image), for probes that compare gated
    with plain features (``pooled_embedding`` averages the tokens)."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.model._backbone_tokens(inputs, None, None)['out']


def gaze_predicting_model(cfg: Config, checkpoint: str):
    """The pre-training model of ``cfg`` with ``checkpoint``'s weights, frozen
    and in eval mode, if it is a GazePrior with a gaze-prediction branch;
    None otherwise (nothing loaded then)."""
    from gazeprior_mm.utils.checkpoint import load_checkpoint_safely
    ensure_scope()
    model = MODELS.build(cfg.model)
    if not hasattr(model, 'predict_gaze') or getattr(
            getattr(model, 'neck', None), 'gaze_predictor', None) is None:
        return None
    model.load_state_dict(load_checkpoint_safely(checkpoint)['state_dict'])
    model.eval()
    for param in model.parameters():
        param.requires_grad_(False)
    return model


def gated_features(config: str, checkpoint: str) -> GazeGatedFeatures:
    """:class:`GazeGatedFeatures` of a GazePrior config + checkpoint, frozen."""
    model = gaze_predicting_model(Config.fromfile(config), checkpoint)
    if model is None:
        raise ValueError(f'{config}: gated features need a GazePrior model with '
                         'a gaze-prediction branch (GGAM predict_gaze=True)')
    return GazeGatedFeatures(model)
