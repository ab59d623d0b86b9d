"""Where the GWCL weight goes: recorded gaze vs GGAM's predicted gaze.

With the seed's ``pair_weight='product'`` an anchor patch i of view 1 carries the
weight ``sum_j' w_ij' = g1_i sum_j' g2_j'`` (masked to the views' overlap), so an image
contributes ``W_n = (sum_i g1_i)(sum_j' g2_j')`` to the loss. g̃ is max-normalised:
a focused recorded map has a few patches near 1, while a flat map (GGAM's prediction
early in training, used for every view without gaze) is near 1 *everywhere*, so such an
image's ``W_n`` can be many times that of an image with real gaze.

This tool runs the config's training pipeline and model (optionally from a
checkpoint) over a few batches and reports, per view pair type (both views with
recorded gaze / at least one predicted), the share of the pairs and the share of the
total GWCL weight ``sum_n W_n``, and the mean ``sum_i g_i`` of recorded and predicted
views. Prints JSON as its last line.

Example::

    python tools/analysis/gwcl_weight_share.py \
        configs/gazeprior/gazeprior_resnet18_synthetic.py --batches 4
"""
import argparse
import json

import torch


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', help='a GazePrior pre-training config')
    parser.add_argument('--checkpoint', help='weights to load (default: init)')
    parser.add_argument('--batches', type=int, default=4)
    parser.add_argument('--data-root', help="override the dataset's data_root")
    parser.add_argument('--batch-size', type=int)
    return parser.parse_args(argv)


def weight_share(model, batches) -> dict:
    """Accumulate the GWCL weight per pair type over ``batches``.

    Args:
        model: a built :class:`~gazeprior_mm.models.selfsup.GazePrior`.
        batches: iterable of ``{'inputs', 'data_samples'}`` dicts from its loader.

    Returns:
        dict: ``pairs`` and ``weight`` shares of the both-recorded and the
        any-predicted pairs, and mean ``sum_i g_i`` per view kind.
    """
    from gazeprior_mm.models.utils.correspondence import patch_correspondence
    totals = dict(recorded_pairs=0, predicted_pairs=0, recorded_weight=0.0,
                  predicted_weight=0.0, recorded_views=0, predicted_views=0,
                  recorded_mass=0.0, predicted_mass=0.0)
    model.eval()
    with torch.no_grad():
        for batch in batches:
            data = model.data_preprocessor(batch, False)
            inputs, samples = data['inputs'], data['data_samples']
            num = inputs[0].shape[0]
            gaze = model._stack(samples, 'gaze_weights').float()
            has = model._stack(samples, 'has_gaze').bool()
            result = model._backbone_tokens(
                torch.cat(inputs), gaze.transpose(0, 1).flatten(0, 1),
                has.transpose(0, 1).flatten())
            g = result['gaze']
            g1, g2 = g[:num], g[num:]
            crop, flip = (model._stack(samples, k) for k in ('crop_box', 'flip'))
            _, valid = patch_correspondence(crop[:, 0], flip[:, 0], crop[:, 1],
                                            flip[:, 1], model.grid)
            _, valid2 = patch_correspondence(crop[:, 1], flip[:, 1], crop[:, 0],
                                             flip[:, 0], model.grid)
            pair_weight = (g1 * valid).sum(1) * (g2 * valid2).sum(1)  # (N,)
            recorded = has[:, 0] & has[:, 1]
            totals['recorded_pairs'] += int(recorded.sum())
            totals['predicted_pairs'] += int((~recorded).sum())
            totals['recorded_weight'] += float(pair_weight[recorded].sum())
            totals['predicted_weight'] += float(pair_weight[~recorded].sum())
            view_has = has.transpose(0, 1).flatten()
            mass = g.sum(1)
            totals['recorded_views'] += int(view_has.sum())
            totals['predicted_views'] += int((~view_has).sum())
            totals['recorded_mass'] += float(mass[view_has].sum())
            totals['predicted_mass'] += float(mass[~view_has].sum())
    pairs = totals['recorded_pairs'] + totals['predicted_pairs']
    weight = totals['recorded_weight'] + totals['predicted_weight']
    return dict(
        pairs=pairs,
        recorded_pair_share=totals['recorded_pairs'] / max(pairs, 1),
        predicted_pair_share=totals['predicted_pairs'] / max(pairs, 1),
        recorded_weight_share=totals['recorded_weight'] / max(weight, 1e-12),
        predicted_weight_share=totals['predicted_weight'] / max(weight, 1e-12),
        mean_gaze_sum_recorded=totals['recorded_mass'] /
        max(totals['recorded_views'], 1),
        mean_gaze_sum_predicted=totals['predicted_mass'] /
        max(totals['predicted_views'], 1),
        num_patches=model.grid * model.grid)


def main(argv=None):
    args = parse_args(argv)
    import gazeprior_mm  # noqa: F401  (registers everything)
    from gazeprior_mm.evaluation.runs import pretraining_model_and_loader
    model, loader, _ = pretraining_model_and_loader(
        args.config, args.checkpoint, args.data_root, args.batch_size)
    batches = (b for b, _ in zip(loader, range(args.batches)))
    out = weight_share(model, batches)
    out.update(config=args.config, checkpoint=args.checkpoint)
    print(json.dumps(out))
    return out


if __name__ == '__main__':
    main()
