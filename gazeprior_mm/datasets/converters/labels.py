"""CheXpert label parsing and the uncertainty / blank policies of the converters."""
import json

from ..chexpert_classes import CHEXPERT_CLASSES  # noqa: F401  (the 14 labels, in order)

UNCERTAIN_POLICIES = ('keep', 'ones', 'zeros', 'ignore')
BLANK_POLICIES = ('zero', 'uncertain')

_VALUES = {'1': 1, '1.0': 1, '0': 0, '0.0': 0, '-1': -1, '-1.0': -1, '': None}


def parse_label(value):
    """A CheXpert/NegBio cell -> 1, 0, -1 (uncertain) or None (blank, not mentioned).

    Raises ValueError for anything else (the caller names file and row)."""
    key = value.strip()
    if key not in _VALUES:
        raise ValueError(f'label value {value!r} is not one of 1, 0, -1 or blank')
    return _VALUES[key]


def parse_uncertain_policy(policy):
    """Normalise an uncertainty policy to a dict ``{class name: policy}``.

    ``policy`` is one of ``'keep'`` (leave -1 for the dataset's ``uncertain_policy``),
    ``'ones'`` (U-Ones), ``'zeros'`` (U-Zeros), ``'ignore'`` (same as keep: -1 is the
    canonical "ignore me" value, masked by
    ``GazeCXRDataset(uncertain_policy='ignore')``), or a per-label dict (or its JSON
    text), e.g.
    ``{"Atelectasis": "ones", "Edema": "ones", "default": "zeros"}``.
    """
    if isinstance(policy, str) and policy.strip().startswith('{'):
        policy = json.loads(policy)
    if isinstance(policy, str):
        policy = {'default': policy}
    policy = dict(policy)
    default = policy.pop('default', 'keep')
    unknown = [k for k in policy if k not in CHEXPERT_CLASSES]
    if unknown:
        raise ValueError(f'uncertain policy names unknown labels {unknown}; '
                         f'labels are {list(CHEXPERT_CLASSES)}')
    out = {name: policy.get(name, default) for name in CHEXPERT_CLASSES}
    bad = sorted({v for v in out.values() if v not in UNCERTAIN_POLICIES})
    if bad:
        raise ValueError(f'unknown uncertain policy {bad}; use {UNCERTAIN_POLICIES} '
                         'or a per-label dict of them')
    return out


def labels_to_canonical(values, uncertain_policy, blank_policy='zero'):
    """Apply the policies to parsed labels in ``CHEXPERT_CLASSES`` order.

    Args:
        values (Sequence[int | None]): parsed values (1, 0, -1, None=blank).
        uncertain_policy (dict): from :func:`parse_uncertain_policy`.
        blank_policy (str): ``'zero'`` (blank = not mentioned = negative, the usual
            CheXpert practice) or ``'uncertain'`` (blank -> -1, so that the dataset's
            uncertainty policy decides, e.g. masks it).

    Returns:
        list[int]: the canonical ``gt_label`` (1 / 0 / -1).
    """
    if blank_policy not in BLANK_POLICIES:
        raise ValueError(f'unknown blank policy {blank_policy!r}; use {BLANK_POLICIES}')
    out = []
    for name, v in zip(CHEXPERT_CLASSES, values):
        if v is None:
            v = 0 if blank_policy == 'zero' else -1
        elif v == -1:
            policy = uncertain_policy[name]
            v = 1 if policy == 'ones' else 0 if policy == 'zeros' else -1
        out.append(v)
    return out
