"""Make the synthetic benchmark a config declares, before its datasets are built.

A config on the synthetic data declares it at the top level::

    synthetic_benchmark = dict(data_root='data/synthetic_cxr', num_images=2000,
                               img_size=128, preset='realistic', seed=0)

and ``tools/train.py`` / ``tools/test.py`` call :func:`prepare_synthetic_benchmark`
once the runner (and so the process group) exists: the first run on a fresh
machine generates the data, later runs find them. Datasets only read.
"""
import os.path as osp
from typing import Iterator, List

from mmengine import dist
from mmengine.logging import print_log

RUNNER_LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


def _dataset_cfgs(node) -> Iterator[dict]:
    """Every dataset dict (one with an ``ann_file``) under a dataloader config,
    through wrappers (``dataset=``) and concatenations (``datasets=[...]``)."""
    if isinstance(node, dict):
        if 'ann_file' in node:
            yield node
        for key in ('dataset', 'datasets'):
            child = node.get(key)
            for item in child if isinstance(child, (list, tuple)) else [child]:
                yield from _dataset_cfgs(item)


def missing_benchmark_files(cfg) -> List[str]:
    """Annotation files of ``cfg``'s dataloaders that lie in the declared
    ``synthetic_benchmark.data_root`` and do not exist (empty when the config
    declares no benchmark)."""
    bench = cfg.get('synthetic_benchmark')
    if not bench:
        return []
    root = osp.abspath(bench['data_root'])
    missing = []
    # the runner's loaders only: a config's named data parts (e.g.
    # gaze_pretrain_train_dataloader) are templates that nothing builds
    for key in RUNNER_LOADERS:
        loader = cfg.get(key)
        if not isinstance(loader, dict):
            continue
        for dataset in _dataset_cfgs(loader.get('dataset')):
            data_root = dataset.get('data_root') or ''
            if osp.abspath(data_root) != root:
                continue  # e.g. compare.py pointed the loader at other data
            ann_file = osp.join(data_root, dataset['ann_file'])
            if not osp.exists(ann_file) and ann_file not in missing:
                missing.append(ann_file)
    return missing


def prepare_synthetic_benchmark(cfg) -> bool:
    """Generate ``cfg.synthetic_benchmark`` if a dataloader needs a file of it.

    Rank 0 generates with ``generate_synthetic_cxr(data_root, **options)``; with
    a declared benchmark every rank then meets at one barrier, whatever it saw on
    disk, so none waits for a barrier the others skipped. Call it after the
    process group is initialised (after building the runner) and before the
    dataloaders are built.

    Only into a folder that is missing, empty, or was made by the generator
    (``annotations/synthetic_summary.json``): a missing file in any other folder
    (somebody's data) is an error, never a reason to write there.

    Args:
        cfg (Config): the run's config; ``synthetic_benchmark`` (dict, optional):
            ``data_root`` plus keyword arguments of ``generate_synthetic_cxr``.

    Returns:
        bool: whether this process generated the benchmark.

    Raises:
        FileNotFoundError: the data root holds other data.
    """
    missing = missing_benchmark_files(cfg)
    generated = False
    if missing and dist.get_rank() == 0:
        from .synthetic import generate_synthetic_cxr, may_generate_into
        options = dict(cfg.synthetic_benchmark)
        data_root = options.pop('data_root')
        if not may_generate_into(data_root):
            raise FileNotFoundError(
                f'{missing[0]} not found, and {data_root!r} holds data that the '
                'synthetic generator did not make: refusing to generate the '
                'synthetic benchmark into it (point data_root at a new folder '
                'for synthetic data, or add the missing file)')
        print_log(f'{missing[0]} not found: generating the synthetic benchmark '
                  f'into {data_root!r} with {options}', logger='current')
        generate_synthetic_cxr(data_root, **options)
        generated = True
    if cfg.get('synthetic_benchmark'):
        # decided by the config, which every rank shares, not by what each rank
        # saw on disk (a late rank may already find rank 0's files)
        dist.barrier()
    return generated
