"""The proposal's exact configs and the variants that give gaze a lever."""
import glob
import os.path as osp

import pytest
from mmengine.config import Config
from mmengine.registry import init_default_scope

import gazeprior_mm  # noqa: F401
from gazeprior_mm.registry import MODELS
from _tools import REPO

init_default_scope('mmpretrain')
SEED_CONFIGS = sorted(glob.glob(osp.join(REPO, 'configs', 'gazeprior_seed',
                                         '*.py')))


@pytest.mark.parametrize('path', SEED_CONFIGS, ids=osp.basename)
def test_proposal_configs_are_exact(path):
    cfg = Config.fromfile(path)
    heatmap = cfg.train_dataloader.dataset.pipeline[1]
    assert heatmap.type == 'GazeHeatmap'
    assert heatmap.sigma_rel == pytest.approx(5 / 224)  # 5 px at 224 px
    assert heatmap.fusion == 'pool' and heatmap.duration_weighted is False
    assert cfg.model.pairing == 'same_index'
    assert cfg.model.head.loss.pair_weight == 'product'
    assert cfg.model.head.loss.get('weight_norm', 'none') == 'none'
    assert cfg.model.neck.predict_gaze is False
    assert cfg.model.gaze_pred_weight == 0.0
    model = MODELS.build(cfg.model)
    assert model.neck.gaze_predictor is None


def test_variants_build_what_they_say():
    root = osp.join(REPO, 'configs', 'variants')
    stage3 = MODELS.build(Config.fromfile(osp.join(
        root, 'gazeprior_resnet18_synthetic_ggam-stage3.py')).model)
    assert stage3.ggam_insert_after == 2 and stage3.neck.in_channels == 256
    glob_model = MODELS.build(Config.fromfile(osp.join(
        root, 'gazeprior_resnet18_synthetic_global.py')).model)
    assert type(glob_model.global_head).__name__ == 'GazePooledContrastHead'
    focus = Config.fromfile(osp.join(
        root, 'gazeprior_resnet18_synthetic_focus-crop.py'))
    views = focus.train_dataloader.dataset.pipeline[2].transforms[0]
    assert views[0].type == 'GazeFocusCrop'
    base = Config.fromfile(osp.join(REPO, 'configs', 'gazeprior',
                                    'gazeprior_resnet18_synthetic.py'))
    # only the crop differs from GazePrior's own views
    assert views[1:] == base.view_pipeline[1:]
