"""benchmarks/gaze_pipeline.py runs and counts the collate's gaze work as gaze."""
import json
import os
import os.path as osp
import subprocess
import sys

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


def test_gaze_pipeline_benchmark_counts_deferred_targets(tmp_path):
    env = dict(os.environ, OMP_NUM_THREADS='1')
    out = subprocess.run(
        [sys.executable, osp.join(ROOT, 'benchmarks', 'gaze_pipeline.py'),
         '--num-samples', '40', '--repeats', '1'],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result['collate_fn'] == 'gaze_collate' and result['config_defers_targets']
    parts = result['gaze_ms_per_sample_by_part']
    # deferred: no per-sample rendering, the targets are computed in the collate
    assert parts['render_views'] == 0 and parts['collate_targets'] > 0
    assert abs(sum(parts.values()) - result['gaze_ms_per_sample']) < 1e-3
    assert result['transform_ms_per_sample']['collate'] > parts['collate_targets']
    assert 0 < result['gaze_to_image_cost_ratio'] < 1
    assert 0 < result['ratio_per_sample_targets'] < 1
    assert result['ratio_with_full_maps'] > result['gaze_to_image_cost_ratio']
    # 2 views per sample, every one counted once
    assert result['views_per_sample'] == 2.0
    assert result['gaze_kernel'] == 'numba'
