"""Gaze controls: keep everything of a data set but the link between image and gaze.

A gain "from gaze" counts only when it disappears once that link is cut. Two
controls act on the canonical rows of an annotation file (``data_list`` items) and
leave images, labels and the gaze statistics of the set as they are:

* ``'shuffle'``: every image that has gaze gets the gaze of *another* image (one
  random cyclic permutation of the images with gaze: no image keeps its own; fixed by
  ``seed``). Fixations are rescaled to the receiving image's pixel grid.
* ``'oracle'``: every image with recorded gaze and lesion boxes gets fixations
  drawn uniformly inside its boxes instead (as many as its recorded gaze had, at
  least ``MIN_ORACLE_FIXATIONS``, one reader ``'oracle'``, 0.3 s each): the ceiling
  of what gaze could tell. Images without lesions keep their recorded gaze
  (readers scan normal images too, and removing it would let "has gaze" reveal
  the label), and images nobody read stay without gaze (the same images have gaze
  as in the data). Needs lesion boxes (the synthetic benchmark has them); a set
  without any is an error.

Both return new rows; the input is not modified. ``GazeCXRDataset(gaze_control=...)``
applies them to the rows it reads and McGIP's neighbour mining
(``load_or_mine(..., gaze_control=...)``) to the gaze it mines, so a control is a
config option and the annotation file on disk is never touched.
"""
import copy
from typing import List, Optional

import numpy as np

GAZE_CONTROLS = ('shuffle', 'oracle')
MIN_ORACLE_FIXATIONS = 8
ORACLE_DURATION_S = 0.3


def _num_fixations(gaze: Optional[dict]) -> int:
    if not gaze:
        return 0
    return sum(len(r.get('fixations') or []) for r in gaze.get('readers') or [])


def _rescaled(gaze: dict, image_size) -> dict:
    """``gaze`` moved to an image of ``image_size`` (H, W) by scaling x and y."""
    out = copy.deepcopy(gaze)
    src_h, src_w = (float(s) for s in gaze['image_size'])
    dst_h, dst_w = (float(s) for s in image_size)
    for reader in out.get('readers') or []:
        fix = np.asarray(reader.get('fixations') or [], dtype=np.float64)
        if fix.size:
            fix = fix.reshape(len(fix), -1).copy()
            fix[:, 0] *= dst_w / src_w
            fix[:, 1] *= dst_h / src_h
        reader['fixations'] = fix.tolist()
    out['image_size'] = [int(dst_h), int(dst_w)]
    return out


def shuffle_gaze(rows: List[dict], seed: int) -> List[dict]:
    """Each image with gaze gets another image's gaze (a cyclic derangement).

    Args:
        rows (list[dict]): canonical rows (``gaze`` optional).
        seed (int): fixes the permutation.

    Returns:
        list[dict]: new rows; ``gaze_source_img_id`` records whose gaze a row got.
    """
    out = [dict(r) for r in rows]
    with_gaze = [i for i, r in enumerate(rows) if _num_fixations(r.get('gaze'))]
    if len(with_gaze) < 2:
        raise ValueError('shuffled gaze needs at least two images with gaze, '
                         f'found {len(with_gaze)}')
    order = np.random.default_rng(seed).permutation(with_gaze)
    # image order[k] receives the gaze of order[k + 1]: one cycle, no fixed point
    for dst, src in zip(order, np.roll(order, -1)):
        target = rows[dst]['gaze'].get('image_size') or rows[src]['gaze'][
            'image_size']
        out[dst]['gaze'] = _rescaled(rows[src]['gaze'], target)
        out[dst]['gaze_source_img_id'] = str(
            rows[src].get('img_id', rows[src].get('img_path')))
    return out


def _box_mask_sampler(boxes: np.ndarray, rng, num: int) -> np.ndarray:
    """``num`` points uniform over the union of COCO ``[x, y, w, h]`` boxes."""
    areas = boxes[:, 2] * boxes[:, 3]
    pick = rng.choice(len(boxes), size=num, p=areas / areas.sum())
    xy = rng.random((num, 2))
    return np.stack([boxes[pick, 0] + xy[:, 0] * boxes[pick, 2],
                     boxes[pick, 1] + xy[:, 1] * boxes[pick, 3]], axis=1)


def oracle_gaze(rows: List[dict], seed: int) -> List[dict]:
    """Fixations inside each image's lesion boxes (see the module doc).

    Args:
        rows (list[dict]): canonical rows; ``lesions`` items carry a COCO ``bbox``.
        seed (int): fixes the drawn fixations.

    Returns:
        list[dict]: new rows.

    Raises:
        ValueError: no row has a lesion box.
    """
    rng = np.random.default_rng(seed)
    out, num_oracle = [], 0
    for row in rows:
        row = dict(row)
        boxes = np.array([les['bbox'] for les in row.get('lesions') or []
                          if les.get('bbox') is not None
                          and les['bbox'][2] > 0 and les['bbox'][3] > 0],
                         dtype=np.float64).reshape(-1, 4)
        if len(boxes) and _num_fixations(row.get('gaze')):
            size = row['gaze'].get('image_size') or row.get('img_shape')
            if size is None:
                raise ValueError(f'row {row.get("img_id", row.get("img_path"))}:'
                                 ' oracle gaze needs gaze.image_size or '
                                 'img_shape')
            num = max(MIN_ORACLE_FIXATIONS, _num_fixations(row.get('gaze')))
            xy = _box_mask_sampler(boxes, rng, num)
            fix = np.concatenate([xy, np.full((num, 1), ORACLE_DURATION_S)], 1)
            row['gaze'] = dict(image_size=[int(s) for s in size],
                               readers=[dict(reader='oracle',
                                             fixations=fix.tolist())])
            num_oracle += 1
        out.append(row)
    if num_oracle == 0:
        raise ValueError('oracle gaze needs images with gaze and lesion boxes '
                         '(rows with "lesions": [{"bbox": [x, y, w, h]}]); this '
                         'data set has none')
    return out


def apply_gaze_control(rows: List[dict], control: Optional[str],
                       seed: int = 0) -> List[dict]:
    """``rows`` unchanged (``control=None``) or under one of ``GAZE_CONTROLS``."""
    if control is None:
        return rows
    if control == 'shuffle':
        return shuffle_gaze(rows, seed)
    if control == 'oracle':
        return oracle_gaze(rows, seed)
    raise ValueError(f'gaze_control must be None or one of {GAZE_CONTROLS}, '
                     f'got {control!r}')
