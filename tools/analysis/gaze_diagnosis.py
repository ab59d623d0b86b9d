"""Does GazePrior's training step use the gaze? Three measurements per checkpoint.

On a few training batches of a GazePrior config (its pipeline, collate and model;
fixed inputs, BatchNorm in eval mode):

1. **Gate.** GGAM's :math:`\\alpha_i = \\sigma(w_g \\tilde g_i + b_g)` on gazed
   patches (:math:`\\tilde g \\ge 0.5`) vs the rest (:math:`\\tilde g < 0.1`),
   and :math:`w_g, b_g`.
2. **Gradient.** :math:`\\|\\partial \\mathcal L_{GWCL} / \\partial h_i\\|` at
   GGAM's input :math:`h` (the features the gate multiplies; pooled to the gaze
   grid for a map): the share of the total that comes from gazed patches, next to
   their share of the patches.
3. **Cancellation.** :math:`\\mathcal L_{GWCL}` with the gate and with
   :math:`\\alpha = 1` on the same inputs, and (GGAM after the backbone) the cosine
   between each patch's projected embedding with and without the gate. Cosine
   similarity is scale-invariant and the per-patch projector is positively
   homogeneous but for its biases, so a per-patch scale :math:`\\alpha_i` nearly
   cancels unless later layers mix the gated patches.

Writes one JSON (``--out``) and, with ``--figure``, a bar chart per measurement
over the checkpoints.

Example::

    python tools/analysis/gaze_diagnosis.py \\
        configs/gazeprior/gazeprior_resnet18_synthetic.py \\
        --checkpoints init work_dirs/x/epoch_15.pth --labels init trained \\
        --out diagnosis.json --figure diagnosis.png
"""
import argparse
import json
import random
from typing import Dict, List

import numpy as np
import torch
import torch.nn.functional as F

GAZED, UNGAZED = 0.5, 0.1


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', help='a GazePrior pre-training config')
    parser.add_argument('--checkpoints', nargs='+', default=['init'],
                        help="checkpoints ('init': the initialisation)")
    parser.add_argument('--labels', nargs='+', help='one per checkpoint')
    parser.add_argument('--batches', type=int, default=4)
    parser.add_argument('--batch-size', type=int)
    parser.add_argument('--data-root', help="override the dataset's data_root")
    parser.add_argument('--out', help='write the JSON here')
    parser.add_argument('--figure', help='write the bar charts here (PNG)')
    return parser.parse_args(argv)


def _per_patch(values: torch.Tensor, grid: int) -> torch.Tensor:
    """(M, P, C) tokens or (M, C, H, W) map -> (M, P) per-patch L2 norms."""
    if values.dim() == 3:
        return values.norm(dim=-1)
    return F.adaptive_avg_pool2d(values.norm(dim=1, keepdim=True),
                                 grid).flatten(1)


def diagnose(model, batches) -> Dict[str, float]:
    """The three measurements over ``batches`` (see the module doc)."""
    model.eval()
    captured = {}

    def keep_input(module, args, kwargs):
        x = args[0]
        if x.requires_grad:  # not in the no-grad loss without the gate
            x.retain_grad()
            captured['h'] = x

    def keep_output(module, args, kwargs, output):
        captured['alpha'], captured['gaze'] = output['alpha'], output['gaze']

    hooks = [model.neck.register_forward_pre_hook(keep_input, with_kwargs=True),
             model.neck.register_forward_hook(keep_output, with_kwargs=True)]
    sums = dict(alpha_gazed=0.0, alpha_ungazed=0.0, n_gazed=0, n_ungazed=0,
                grad_gazed=0.0, grad_total=0.0, n_patches=0,
                loss_gate=0.0, loss_no_gate=0.0, cos=0.0, n_cos=0)
    try:
        for batch in batches:
            data = model.data_preprocessor(batch, False)
            inputs, samples = data['inputs'], data['data_samples']
            model.zero_grad()
            loss = model.loss(inputs, samples)['loss_gwcl']
            loss.backward()
            gaze, alpha = captured['gaze'].detach(), captured['alpha'].detach()
            gazed, ungazed = gaze >= GAZED, gaze < UNGAZED
            grad = _per_patch(captured['h'].grad, model.grid)
            sums['alpha_gazed'] += float(alpha[gazed].sum())
            sums['alpha_ungazed'] += float(alpha[ungazed].sum())
            sums['n_gazed'] += int(gazed.sum())
            sums['n_ungazed'] += int(ungazed.sum())
            sums['grad_gazed'] += float(grad[gazed].sum())
            sums['grad_total'] += float(grad.sum())
            sums['n_patches'] += gaze.numel()
            with torch.no_grad():
                sums['loss_gate'] += float(loss)
                source, model.neck.gaze_source = model.neck.gaze_source, 'none'
                try:
                    sums['loss_no_gate'] += float(
                        model.loss(inputs, samples)['loss_gwcl'])
                finally:
                    model.neck.gaze_source = source
                h = captured['h']
                if h.dim() == 3 and model.ggam_insert_after is None:
                    cos = F.cosine_similarity(model.head(h * alpha[..., None]),
                                              model.head(h), dim=-1)
                    sums['cos'] += float(cos.sum())
                    sums['n_cos'] += cos.numel()
    finally:
        for hook in hooks:
            hook.remove()
    n = max(sums['n_cos'], 1)
    return dict(
        w_g=float(model.neck.w_g), b_g=float(model.neck.b_g),
        alpha_gazed=sums['alpha_gazed'] / max(sums['n_gazed'], 1),
        alpha_ungazed=sums['alpha_ungazed'] / max(sums['n_ungazed'], 1),
        gazed_patch_share=sums['n_gazed'] / max(sums['n_patches'], 1),
        gazed_grad_share=sums['grad_gazed'] / max(sums['grad_total'], 1e-12),
        loss_gate=sums['loss_gate'], loss_no_gate=sums['loss_no_gate'],
        loss_gate_effect=(sums['loss_gate'] - sums['loss_no_gate'])
        / max(abs(sums['loss_no_gate']), 1e-12),
        cos_gated_vs_ungated=sums['cos'] / n if sums['n_cos'] else None)


def draw(results: List[dict], path: str) -> str:
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    labels = [r['label'] for r in results]
    x = np.arange(len(labels))
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    ax = axes[0]
    ax.bar(x - 0.2, [r['alpha_gazed'] for r in results], 0.4,
           label=f'gazed patches (g~ >= {GAZED})')
    ax.bar(x + 0.2, [r['alpha_ungazed'] for r in results], 0.4,
           label=f'other patches (g~ < {UNGAZED})')
    ax.set_title('GGAM gate alpha (mean)')
    ax.set_ylim(0, 1)
    ax = axes[1]
    ax.bar(x - 0.2, [r['gazed_grad_share'] for r in results], 0.4,
           label='share of the GWCL gradient')
    ax.bar(x + 0.2, [r['gazed_patch_share'] for r in results], 0.4,
           label='share of the patches')
    ax.set_title('gazed patches: gradient vs count')
    ax.set_ylim(0, 1)
    ax = axes[2]
    ax.bar(x, [100 * r['loss_gate_effect'] for r in results])
    ax.axhline(0, color='k', lw=0.8)
    ax.set_title('L_GWCL with gate vs alpha = 1 (%)')
    for ax in axes:
        ax.set_xticks(x)
        ax.set_xticklabels(labels, fontsize=8)
    axes[0].legend(fontsize=7)
    axes[1].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def main(argv=None):
    args = parse_args(argv)
    import gazeprior_mm  # noqa: F401  (registers everything)
    from gazeprior_mm.evaluation.runs import pretraining_model_and_loader
    labels = args.labels or args.checkpoints
    if len(labels) != len(args.checkpoints):
        raise ValueError('--labels needs one label per checkpoint')
    results = []
    for ckpt, label in zip(args.checkpoints, labels):
        model, loader, _ = pretraining_model_and_loader(
            args.config, None if ckpt == 'init' else ckpt, args.data_root,
            args.batch_size)
        # the same batches and views for every checkpoint
        random.seed(0), np.random.seed(0), torch.manual_seed(0)
        batches = (b for b, _ in zip(loader, range(args.batches)))
        out = diagnose(model, batches)
        out.update(label=label, checkpoint=ckpt)
        results.append(out)
    report = dict(config=args.config, results=results)
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(report, f, indent=2)
    if args.figure:
        draw(results, args.figure)
    print(json.dumps(report))
    return report


if __name__ == '__main__':
    main()
