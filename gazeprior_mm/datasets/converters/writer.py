"""Deterministic, atomic writing of canonical annotation files (docs/interfaces.md)."""
import json
import os
import tempfile

from .report import ConversionError


def dump_annotation_text(metainfo, data_list):
    """The canonical JSON text: fixed key order and separators, one item per line,
    so that converting the same input twice gives the same bytes (idempotence) and
    diffs stay readable."""
    lines = ['{"metainfo": ' + json.dumps(metainfo, sort_keys=True) + ',',
             ' "data_list": [']
    items = [json.dumps(item, sort_keys=True, separators=(',', ':'))
             for item in data_list]
    lines.append(',\n'.join('  ' + s for s in items))
    lines.append(']}\n')
    return '\n'.join(lines)


def write_annotation_file(path, metainfo, data_list):
    """Write ``{"metainfo": ..., "data_list": [...]}`` to ``path`` atomically.

    The text goes to a temporary file in the same directory, is flushed and synced,
    then replaces ``path`` with ``os.replace``: readers never see a half-written file
    and an interrupted run leaves the previous file intact.

    Returns:
        str: ``path``.
    """
    text = dump_annotation_text(metainfo, data_list)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix='.' + os.path.basename(path) + '.',
                               suffix='.tmp', dir=directory)
    try:
        with os.fdopen(fd, 'w', encoding='utf-8') as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def load_annotation_file(path):
    """Read a canonical annotation file (JSON only: nothing that can run code);
    ConversionError names the file if it is missing, not UTF-8 JSON, or lacks
    ``metainfo``/``data_list``."""
    if not os.path.isfile(path):
        raise ConversionError(f'{path}: annotation file not found')
    try:
        with open(path, 'r', encoding='utf-8') as f:
            ann = json.load(f)
    except json.JSONDecodeError as e:
        raise ConversionError(f'{path}: not valid JSON (truncated?): {e}') from e
    except UnicodeDecodeError as e:
        raise ConversionError(f'{path}: not UTF-8 text: {e}') from e
    if not isinstance(ann, dict) or 'data_list' not in ann or 'metainfo' not in ann:
        raise ConversionError(f'{path}: not a canonical annotation file '
                              '(needs "metainfo" and "data_list")')
    return ann
