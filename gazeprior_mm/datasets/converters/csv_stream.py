"""Streaming CSV reading with structural checks (header, truncation, gzip)."""
import csv
import gzip
import io
import os

from .report import ConversionError


def open_text(path):
    """Open ``path`` (plain or ``.gz``) for csv reading: universal newlines so CRLF
    files (REFLACX) read like LF ones, UTF-8 with an optional BOM."""
    if not os.path.isfile(path):
        raise ConversionError(f'{path}: file not found')
    if str(path).endswith('.gz'):
        return io.TextIOWrapper(gzip.open(path, 'rb'), encoding='utf-8-sig', newline='')
    return open(path, 'r', encoding='utf-8-sig', newline='')


def find_file(directory, names):
    """The first of ``names`` (tried also with ``.gz``) existing in ``directory``."""
    for name in names:
        for candidate in (name, name + '.gz'):
            path = os.path.join(directory, candidate)
            if os.path.isfile(path):
                return path
    raise ConversionError(f'{directory}: none of {list(names)} (or .gz) found')


def iter_csv_rows(path, required=(), aliases=None, report=None):
    """Stream the rows of a CSV file as dicts, checking its structure.

    Structural errors raise :class:`ConversionError` naming the file: missing file,
    empty file or header, required columns missing, a truncated gzip stream, and a
    final row cut short (file truncated mid-row). A row whose number of fields differs
    from the header is a per-row error: it is counted in ``report`` as ``malformed_row``
    (message with file and row) and skipped; without a report it raises.

    Args:
        path (str): the CSV file (``.gz`` allowed).
        required (Sequence[str]): columns that must be present.
        aliases (dict[str, Sequence[str]] | None): canonical column name -> accepted
            spellings; the first spelling present is renamed to the canonical name.
        report (ConversionReport | None): where per-row errors are counted.

    Yields:
        tuple[int, dict[str, str]]: the 1-based data row number (the header is row 0;
        quoted multi-line fields count as one row) and the row keyed by column name.
    """
    aliases = aliases or {}
    with open_text(path) as f:
        reader = csv.reader(f)
        try:
            header = next(reader)
        except StopIteration:
            raise ConversionError(f'{path}: empty file (no header row)') from None
        except (EOFError, OSError, csv.Error, UnicodeDecodeError) as e:
            raise ConversionError(f'{path}: unreadable header: {e}') from e
        header = [h.strip() for h in header]
        for canonical, spellings in aliases.items():
            if canonical in header:
                continue
            for spelling in spellings:
                if spelling in header:
                    header[header.index(spelling)] = canonical
                    break
        missing = [c for c in required if c not in header]
        if missing:
            raise ConversionError(
                f'{path}: missing column(s) {missing}; header is {header}')
        n_cols = len(header)
        row_no = 0
        pending = None  # a short row is an error only if it is not the last one
        try:
            for fields in reader:
                row_no += 1
                if pending is not None:
                    _bad_row(path, *pending, n_cols, report)
                    pending = None
                if not fields:
                    continue  # blank line
                if len(fields) != n_cols:
                    pending = (row_no, fields)
                    continue
                yield row_no, dict(zip(header, fields))
        except (EOFError, OSError, gzip.BadGzipFile) as e:
            raise ConversionError(f'{path}: truncated or corrupt after row {row_no}: '
                                  f'{e}') from e
        except csv.Error as e:
            raise ConversionError(f'{path}: unparseable at row {row_no}: {e}') from e
        if pending is not None:
            if len(pending[1]) < n_cols:
                raise ConversionError(
                    f'{path}: truncated file: last row {pending[0]} has '
                    f'{len(pending[1])} of {n_cols} fields')
            _bad_row(path, *pending, n_cols, report)


def _bad_row(path, row_no, fields, n_cols, report):
    detail = f'malformed row: {len(fields)} fields, header has {n_cols}'
    if report is None:
        raise ConversionError(f'{path}, row {row_no}: {detail}')
    report.reject('malformed_row', path, row_no, detail)


def parse_float(value, path, row_no, column):
    """``float(value)`` or a ValueError naming the column and the bad value (the
    caller's report message adds file and row)."""
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ValueError(f'column {column!r} is not a number: {value!r}') from None
