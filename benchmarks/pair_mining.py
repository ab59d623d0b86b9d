"""Benchmark: top-k gaze-neighbour mining at dataset scale (CPU).

For each N, synthetic gaze (1-3 readers, 4-12 fixations each, around 1-3 foci per
image) is generated, then timed: descriptor computation + exact blocked top-k
mining (``gazeprior_mm.mining.neighbours.mine_gaze_neighbours``, vector descriptor).
Each N runs in a fresh subprocess so ``peak_mb`` is that run's peak RSS
(``rss_before_mb``: the RSS before mining, i.e. imports plus the generated gaze;
the difference is what mining itself adds).
``exact_recall`` compares the mined lists of 2000 query images of the smallest N
with brute-force top-k over all N (a found neighbour counts when its similarity
reaches the true k-th best, so ties cannot lower it). ``growth_exponent`` is the
slope of log(seconds) against log(n).

Last line of stdout: JSON ``{"results": [{"n", "seconds", "peak_mb"}, ...],
"exact_recall", "growth_exponent", ...}``.

Usage:
    python benchmarks/pair_mining.py            # N = 10k, 30k, 100k (target <= 60 s at 100k)
    python benchmarks/pair_mining.py --quick    # N = 2k, 5k, 10k
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import time

import numpy as np


def synthetic_gazes(num: int, seed: int = 0, size=(128, 128)):
    """Canonical gaze dicts (about 15 % of images without gaze)."""
    rng = np.random.default_rng(seed)
    height, width = size
    gazes = []
    for _ in range(num):
        if rng.random() < 0.15:
            gazes.append(None)
            continue
        foci = rng.uniform([0.15 * width, 0.15 * height],
                           [0.85 * width, 0.85 * height], (rng.integers(1, 4), 2))
        readers = []
        for r in range(rng.integers(1, 4)):
            k = rng.integers(4, 13)
            xy = foci[rng.integers(0, len(foci), k)] + rng.normal(0, 6, (k, 2))
            xy = xy.clip(0, [width - 1, height - 1])
            dur = rng.uniform(0.1, 0.6, (k, 1))
            readers.append(dict(reader=f'r{r}',
                                fixations=np.hstack([xy, dur]).tolist()))
        gazes.append(dict(image_size=[height, width], readers=readers))
    return gazes


def run_single(num: int, k: int, method: str, grid: int, recall_queries: int):
    """Mine one N in this process; print a JSON line."""
    import torch
    torch.set_num_threads(int(os.environ.get('BENCH_THREADS', '2')))
    from gazeprior_mm.mining import similarity as sim
    from gazeprior_mm.mining.neighbours import mine_gaze_neighbours
    gazes = synthetic_gazes(num)
    ids = [f'img{i}' for i in range(num)]
    with open('/proc/self/statm') as f:  # resident pages before mining
        rss_before = int(f.read().split()[1]) * os.sysconf('SC_PAGE_SIZE') / 2**20
    start = time.perf_counter()
    table = mine_gaze_neighbours(gazes, ids, method=method, k=k,
                                 descriptor_cfg=dict(grid=grid))
    seconds = time.perf_counter() - start
    out = dict(n=num, seconds=round(seconds, 3),
               peak_mb=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss /
                             1024, 1),
               rss_before_mb=round(rss_before, 1),  # imports + generated gaze
               pairs=int(len(table.indices)))
    if recall_queries:
        desc, has = sim.compute_descriptors(gazes, method, grid=grid)
        queries = np.flatnonzero(has)[:recall_queries]
        dense = sim.vector_similarity(desc[queries].astype(np.float64),
                                      desc.astype(np.float64), method)
        dense[:, ~has] = -np.inf
        dense[np.arange(len(queries)), queries] = -np.inf
        kth = -np.sort(-dense, axis=1)[:, k - 1]
        found = correct = 0
        for row, query in enumerate(queries):  # reporting only, not the miner
            nbrs = table.indices[table.indptr[query]:table.indptr[query + 1]]
            found += k
            correct += int((dense[row, nbrs] >= kth[row] - 1e-5).sum())
        out['exact_recall'] = correct / max(found, 1)
    print(json.dumps(out), flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--quick', action='store_true', help='N = 2k, 5k, 10k')
    parser.add_argument('--sizes', type=int, nargs='+', default=None)
    parser.add_argument('--k', type=int, default=16)
    parser.add_argument('--method', default='heatmap_cosine')
    parser.add_argument('--grid', type=int, default=16)
    parser.add_argument('--recall-queries', type=int, default=2000)
    parser.add_argument('--single', type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.single is not None:
        run_single(args.single, args.k, args.method, args.grid, args.recall_queries)
        return
    sizes = args.sizes or ([2000, 5000, 10000] if args.quick else
                           [10000, 30000, 100000])
    results, recall = [], None
    for i, num in enumerate(sizes):
        cmd = [sys.executable, __file__, '--single', str(num), '--k', str(args.k),
               '--method', args.method, '--grid', str(args.grid),
               '--recall-queries', str(args.recall_queries if i == 0 else 0)]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise RuntimeError(f'N={num} failed:\n{proc.stderr[-2000:]}')
        line = json.loads(proc.stdout.strip().splitlines()[-1])
        recall = line.pop('exact_recall', recall)
        print(json.dumps(line), flush=True)
        results.append(line)
    logn = np.log([r['n'] for r in results])
    logt = np.log([max(r['seconds'], 1e-6) for r in results])
    slope = float(np.polyfit(logn, logt, 1)[0]) if len(results) > 1 else None
    print(json.dumps(dict(results=results, exact_recall=recall,
                          growth_exponent=round(slope, 3) if slope else slope,
                          k=args.k, method=args.method, grid=args.grid,
                          threads=int(os.environ.get('BENCH_THREADS', '2')),
                          quick=args.quick)))


if __name__ == '__main__':
    main()
