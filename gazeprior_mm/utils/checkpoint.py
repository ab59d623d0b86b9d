"""Safe loading and atomic saving of mmengine checkpoints.

Trust model
-----------
Since torch 2.6 ``torch.load`` unpickles with ``weights_only=True`` by default: the
restricted unpickler only rebuilds tensors, plain containers and the globals that
were explicitly allow-listed, so *loading a checkpoint cannot execute code*.
mmengine 0.10.7 calls ``torch.load`` with that default for ``resume``,
``load_from`` and ``init_cfg=dict(type='Pretrained')``, but its own checkpoints hold
a few non-tensor objects (numpy scalars/arrays in ``meta`` and the message hub,
mmengine's ``HistoryBuffer``), so they are rejected ("Weights only load failed").

:func:`install_safe_globals` (run by ``import gazeprior_mm``) allow-lists exactly
those data containers, found by saving a real mmengine ``Runner`` checkpoint and
listing the globals the unpickler rejects:

* ``numpy._core.multiarray.scalar`` / ``_reconstruct``, ``numpy.ndarray``,
  ``numpy.dtype`` and numpy's concrete numeric/bool/str dtype classes (their
  numpy 1.x names ``numpy.core.multiarray.*`` too, for old checkpoints);
* ``mmengine.logging.HistoryBuffer`` (a list of logged values, no behaviour on
  load);
* ``builtins.getattr`` -- *not* the real one: mmengine pickles the buffer's
  statistics methods as ``getattr(HistoryBuffer, 'mean')``, so the name is mapped to
  :func:`restricted_getattr`, which only returns public methods of
  ``HistoryBuffer`` and rejects everything else.

Nothing else is added; ``weights_only=False`` is never used. A checkpoint that needs
any other global (e.g. a pickled ``os.system`` reduce or an arbitrary class) fails to
load with torch's error naming that global. If you *fully trust* such a file
(you made it yourself), convert it once with ``torch.load(path, weights_only=False)``
and re-save it; do not do this for files from elsewhere.

Saving: :func:`atomic_torch_save` writes to a temporary file in the destination
directory, ``fsync``\\ s it and renames it over the target with ``os.replace`` (atomic
on POSIX), so a process killed mid-save leaves either the old file or the new one,
never a truncated one. :func:`to_builtin` turns numpy values into plain Python so
checkpoints written by this project need as little of the allow-list as possible.
"""
import os
import os.path as osp
import pickle
import re
import tempfile
import zipfile
from collections import OrderedDict
from typing import Any, List, Optional, Tuple

import numpy as np
import torch
from mmengine.logging import HistoryBuffer

__all__ = [
    'SAFE_CHECKPOINT_GLOBALS', 'install_safe_globals', 'restricted_getattr',
    'load_checkpoint_safely', 'atomic_torch_save', 'atomic_write_text',
    'to_builtin', 'checkpoint_problem', 'find_resumable_checkpoint',
    'resolve_resume_checkpoint'
]


def restricted_getattr(obj: Any, name: str) -> Any:
    """Stand-in for ``builtins.getattr`` inside ``weights_only`` unpickling.

    mmengine's ``HistoryBuffer`` carries its statistics methods (``min``, ``max``,
    ``current``, ``mean``, ...), which pickle as ``getattr(HistoryBuffer, name)``.
    Only that lookup is allowed: the real ``getattr`` would let a crafted file reach
    any attribute of any allow-listed object.

    Args:
        obj: the object the checkpoint asks an attribute of.
        name (str): attribute name.

    Returns:
        The public method ``HistoryBuffer.<name>``.

    Raises:
        pickle.UnpicklingError: for any other object or a private/non-callable name.
    """
    if (obj is HistoryBuffer and isinstance(name, str)
            and not name.startswith('_')
            and callable(getattr(HistoryBuffer, name, None))):
        return getattr(HistoryBuffer, name)
    raise pickle.UnpicklingError(
        f'checkpoint asks for getattr({obj!r}, {name!r}); only public methods '
        'of mmengine HistoryBuffer are allowed (see gazeprior_mm.utils.checkpoint)')


def _numpy_globals():
    """numpy globals that mmengine checkpoints contain (numpy 2 and 1.x names)."""
    multiarray = np._core.multiarray if hasattr(np, '_core') else np.core.multiarray
    items = [multiarray.scalar, multiarray._reconstruct, np.ndarray, np.dtype]
    for mod in ('numpy._core.multiarray', 'numpy.core.multiarray'):
        items.append((multiarray.scalar, f'{mod}.scalar'))
        items.append((multiarray._reconstruct, f'{mod}._reconstruct'))
    # concrete dtype classes, pickled e.g. for ``type(arr.dtype)`` (numpy >= 1.25)
    dtypes = getattr(np, 'dtypes', None)
    if dtypes is not None:
        for name in ('BoolDType', 'Int8DType', 'UInt8DType', 'Int16DType',
                     'UInt16DType', 'Int32DType', 'UInt32DType', 'Int64DType',
                     'UInt64DType', 'Float16DType', 'Float32DType',
                     'Float64DType', 'StrDType', 'BytesDType'):
            cls = getattr(dtypes, name, None)
            if cls is not None:
                items.append(cls)
    return items


#: Everything :func:`install_safe_globals` adds: classes/functions, or
#: ``(object, 'full.path')`` pairs that map a pickled name to a vetted object.
SAFE_CHECKPOINT_GLOBALS = _numpy_globals() + [
    HistoryBuffer,
    (restricted_getattr, 'builtins.getattr'),
]

_installed = False


def install_safe_globals() -> None:
    """Allow-list :data:`SAFE_CHECKPOINT_GLOBALS` for ``weights_only`` loading.

    Idempotent; called by ``import gazeprior_mm``.
    """
    global _installed
    if not _installed:
        torch.serialization.add_safe_globals(SAFE_CHECKPOINT_GLOBALS)
        _installed = True


def load_checkpoint_safely(filename: str, map_location: Any = 'cpu') -> dict:
    """``torch.load`` with ``weights_only=True`` and the allow-list installed.

    Args:
        filename (str): checkpoint path.
        map_location: as in :func:`torch.load`.

    Returns:
        dict: the checkpoint.

    Raises:
        pickle.UnpicklingError: naming the file, when it needs a global outside the
            allow-list (an untrusted or foreign checkpoint).
    """
    install_safe_globals()
    try:
        return torch.load(filename, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        raise pickle.UnpicklingError(
            f'{filename}: refused by the weights_only loader (it needs a global '
            'outside the GazePrior-MM allow-list; see docs/distributed.md, trust '
            f'model). Original error: {err}') from err
    except RuntimeError as err:
        # torch's zip reader names no file ("PytorchStreamReader failed reading
        # zip archive: failed finding central directory")
        if 'PytorchStreamReader' not in str(err):
            raise
        raise RuntimeError(
            f'{filename}: not a complete checkpoint (truncated or corrupt, e.g. '
            f'written by a process that was killed). Original error: {err}'
        ) from err


def to_builtin(obj: Any) -> Any:
    """Recursively turn numpy scalars/arrays in dicts/lists/tuples into Python.

    Args:
        obj: any nested structure.

    Returns:
        The same structure with ``np.generic`` -> ``int/float/bool/str`` and
        ``np.ndarray`` -> (nested) lists; other leaves are returned unchanged.
    """
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, dict):
        items = {k: to_builtin(v) for k, v in obj.items()}
        return OrderedDict(items) if isinstance(obj, OrderedDict) else items
    if isinstance(obj, (list, tuple)) and not hasattr(obj, '_fields'):  # not namedtuples
        return type(obj)(to_builtin(v) for v in obj)
    return obj


def _fsync_dir(dirname: str) -> None:
    """fsync a directory so a rename inside it survives a power loss."""
    try:
        fd = os.open(dirname, os.O_RDONLY)
    except OSError:  # e.g. platforms without directory fds
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _fsync_file(filename: str) -> None:
    """Flush a written file's data to disk (before renaming it into place)."""
    fd = os.open(filename, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    _fsync_dir(osp.dirname(osp.abspath(filename)))


def _atomic_write(write_fn, filename: str) -> None:
    """Run ``write_fn(fileobj)`` on a temp file beside ``filename``, then rename."""
    dirname = osp.dirname(osp.abspath(filename))
    os.makedirs(dirname, exist_ok=True)
    fd, tmp = tempfile.mkstemp(
        prefix=f'.{osp.basename(filename)}.', suffix='.tmp', dir=dirname)
    try:
        with os.fdopen(fd, 'wb') as f:
            write_fn(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, filename)
    except BaseException:
        if osp.exists(tmp):
            os.remove(tmp)
        raise
    _fsync_dir(dirname)


def atomic_torch_save(obj: Any, filename: str) -> None:
    """``torch.save`` that never leaves a truncated ``filename`` behind.

    Args:
        obj: what to save.
        filename (str): destination (a local path).
    """
    _atomic_write(lambda f: torch.save(obj, f), filename)


def atomic_write_text(text: str, filename: str) -> None:
    """Atomically replace a small text file (e.g. ``last_checkpoint``)."""
    _atomic_write(lambda f: f.write(text.encode('utf-8')), filename)


def checkpoint_problem(filename: str) -> Optional[str]:
    """Why ``filename`` cannot be resumed from, or ``None`` if it is intact.

    torch checkpoints are zip archives (``torch.save``'s default since 1.6): a
    truncated file has no central directory, a corrupt one fails a member's CRC.
    Both are checked without unpickling (``ZipFile.testzip`` reads the data once).
    A file that is not a zip archive at all (torch's legacy format) is tried with
    :func:`load_checkpoint_safely` instead.

    Args:
        filename (str): checkpoint path.

    Returns:
        str | None: a short reason, or None.
    """
    if not osp.isfile(filename):
        return 'no such file'
    try:
        with zipfile.ZipFile(filename) as archive:
            bad = archive.testzip()
        if bad is not None:
            return f'corrupt archive member {bad!r} (CRC mismatch)'
        return None
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as zip_err:
        try:  # the legacy (non-zip) format, or a truncated zip
            load_checkpoint_safely(filename)
            return None
        except Exception as err:  # noqa: BLE001  (any failure = not resumable)
            if isinstance(err, RuntimeError) and 'not a complete' in str(err):
                return f'truncated or not a checkpoint ({zip_err})'
            return f'cannot be loaded ({type(err).__name__}: {err})'


_STEP_NAME = re.compile(r'^(?P<prefix>.*?)(?P<step>\d+)\.pth$')


def find_resumable_checkpoint(
        work_dir: str) -> Tuple[Optional[str], List[Tuple[str, str]]]:
    """The checkpoint ``--resume`` (no path) should continue from.

    mmengine resumes from the file named in ``work_dir/last_checkpoint`` and, if
    that file is truncated, stops with torch's ``PytorchStreamReader failed reading
    zip archive`` naming no file. Here the named file is checked
    (:func:`checkpoint_problem`); if it is unusable, the checkpoints beside it with
    the same name pattern (``epoch_N.pth`` / ``iter_N.pth``) and a smaller step are
    tried, newest first. Files of a larger step are never picked: the pointer is
    written after the file it names is complete, so they are not this run's latest
    good state.

    Args:
        work_dir (str): the run's work directory.

    Returns:
        tuple: ``(path or None, skipped)``; ``skipped`` lists ``(path, reason)`` of
        the unusable checkpoints passed over (newest first). ``(None, [])`` when
        there is no ``last_checkpoint`` (mmengine then starts from scratch).
    """
    pointer = osp.join(work_dir, 'last_checkpoint')
    if not osp.isfile(pointer):
        return None, []
    with open(pointer) as f:
        latest = f.read().strip()
    candidates = [latest]
    match = _STEP_NAME.match(osp.basename(latest))
    folder = osp.dirname(latest) or work_dir
    if match and osp.isdir(folder):
        older = []
        for name in os.listdir(folder):
            other = _STEP_NAME.match(name)
            if (other and other['prefix'] == match['prefix']
                    and int(other['step']) < int(match['step'])):
                older.append((int(other['step']), osp.join(folder, name)))
        candidates += [path for _, path in sorted(older, reverse=True)]
    skipped = []
    for path in candidates:
        problem = checkpoint_problem(path)
        if problem is None:
            return path, skipped
        skipped.append((path, problem))
    return None, skipped


def resolve_resume_checkpoint(work_dir: str,
                              load_from: Optional[str] = None,
                              logger: Any = 'current') -> Optional[str]:
    """Check the checkpoint a resumed run will load; fall back if it is broken.

    Used by ``tools/train.py --resume``.

    * ``load_from`` given (``--resume PATH``): returned if intact; otherwise a
      ``RuntimeError`` names the file, why, and the newest intact checkpoint of
      the run, if any (an explicit choice is not silently replaced).
    * ``load_from=None`` (``--resume``): the file ``last_checkpoint`` names, or, if
      that one is truncated/corrupt, the newest intact earlier one, with a warning
      naming the skipped file(s) (:func:`find_resumable_checkpoint`). ``None`` when
      the run has no checkpoint yet. A ``RuntimeError`` lists every candidate when
      none is intact (starting over would silently overwrite the run).

    Args:
        work_dir (str): the run's work directory.
        load_from (str, optional): the path given to ``--resume``.
        logger: where warnings go (``print_log``'s ``logger``).

    Returns:
        str | None: the checkpoint to resume from.
    """
    from mmengine.logging import print_log
    import logging
    if load_from is not None:
        problem = checkpoint_problem(load_from)
        if problem is None:
            return load_from
        fallback, _ = find_resumable_checkpoint(work_dir)
        hint = (f'; the newest intact checkpoint of {work_dir} is {fallback} '
                f'(--resume {fallback}, or --resume alone to pick it)'
                if fallback else '')
        raise RuntimeError(f'cannot resume from {load_from}: {problem}{hint}')
    path, skipped = find_resumable_checkpoint(work_dir)
    if path is None and skipped:
        listing = '; '.join(f'{p}: {why}' for p, why in skipped)
        raise RuntimeError(
            f'--resume: no intact checkpoint in {work_dir} ({listing})')
    for bad, why in skipped:
        print_log(
            f'Resume: skipping {bad}: {why}. Falling back to the previous intact '
            f'checkpoint {path}.', logger=logger, level=logging.WARNING)
    return path
