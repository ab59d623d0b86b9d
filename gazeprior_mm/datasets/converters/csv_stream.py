"""Streaming CSV reading with structural checks (header, truncation, gzip)."""
import codecs
import csv
import gzip
import io
import math
import os
import re

from .report import ConversionError

#: encoding of the input CSV files unless the converter is told otherwise
DEFAULT_ENCODING = 'utf-8'
_LONE_CR = re.compile('(?<=\r)(?!\n)')


def check_encoding(encoding):
    """The codec name of ``encoding``, or a ValueError naming it if Python has no
    such codec (checked before any file is read).

    Args:
        encoding (str): a codec name, e.g. ``'utf-8'``, ``'latin-1'``, ``'cp1252'``.

    Returns:
        str: the normalised codec name.
    """
    try:
        return codecs.lookup(encoding).name
    except (LookupError, TypeError):
        raise ValueError(f'unknown text encoding {encoding!r} (try utf-8, latin-1 '
                         'or cp1252)') from None


def open_text(path, encoding=DEFAULT_ENCODING):
    """Open ``path`` (plain or ``.gz``) for csv reading: universal newlines so CRLF
    files (REFLACX) read like LF ones, ``encoding`` (UTF-8 with an optional BOM
    by default)."""
    if not os.path.isfile(path):
        raise ConversionError(f'{path}: file not found')
    if check_encoding(encoding) == 'utf-8':
        encoding = 'utf-8-sig'
    if str(path).endswith('.gz'):
        return io.TextIOWrapper(gzip.open(path, 'rb'), encoding=encoding, newline='')
    return open(path, 'r', encoding=encoding, newline='')


class _DecodedLines:
    """Lines of a binary stream decoded one at a time, counting them, so that an
    undecodable byte is reported with its line (a text-mode file decodes 8 kB
    chunks ahead of the csv parser, far from the row being read).

    Lines end at ``\\n``, ``\\r\\n`` or a lone ``\\r`` (universal newlines,
    endings kept as the csv module wants); encodings must be ASCII-compatible
    (UTF-8, Latin-1, cp1252, ...).

    Args:
        stream: binary file object.
        encoding (str): codec name.
    """

    def __init__(self, stream, encoding):
        self.encoding = encoding
        if check_encoding(encoding) == 'utf-8':
            encoding = 'utf-8-sig'  # strips a BOM
        self.decoder = codecs.getincrementaldecoder(encoding)()
        self.stream = stream
        self.line_no = 0  # 1-based number of the physical line last read

    def __iter__(self):
        for raw in self.stream:
            self.line_no += 1
            text = self.decoder.decode(raw)
            if '\r' in text.rstrip('\r\n'):  # a lone CR ends a line too
                yield from (part for part in _LONE_CR.split(text) if part)
            else:
                yield text
        tail = self.decoder.decode(b'', final=True)
        if tail:
            yield tail


def _open_lines(path, encoding):
    if not os.path.isfile(path):
        raise ConversionError(f'{path}: file not found')
    stream = gzip.open(path, 'rb') if str(path).endswith('.gz') else open(path, 'rb')
    return stream, _DecodedLines(stream, encoding)


def _decode_error(path, lines, row_no, err):
    return ConversionError(
        f'{path}, row {row_no} (line {lines.line_no}): bytes not decodable as '
        f'{lines.encoding}: {err.reason} (byte 0x{err.object[err.start]:02x}); '
        'if the file uses another encoding, pass it with --encoding (e.g. latin-1, '
        'cp1252)')


def find_file(directory, names):
    """The first of ``names`` (tried also with ``.gz``) existing in ``directory``."""
    for name in names:
        for candidate in (name, name + '.gz'):
            path = os.path.join(directory, candidate)
            if os.path.isfile(path):
                return path
    raise ConversionError(f'{directory}: none of {list(names)} (or .gz) found')


def iter_csv_rows(path, required=(), aliases=None, report=None,
                  encoding=DEFAULT_ENCODING):
    """Stream the rows of a CSV file as dicts, checking its structure.

    Structural errors raise :class:`ConversionError` naming the file: missing file,
    empty file or header, required columns missing, a truncated gzip stream, and a
    final row cut short (file truncated mid-row). A row whose number of fields differs
    from the header is a per-row error: it is counted in ``report`` as ``malformed_row``
    (message with file and row) and skipped; without a report it raises. A byte that
    is not valid in ``encoding`` stops the conversion with a ConversionError naming
    the file, the row and the line (suggesting ``--encoding``).

    Args:
        path (str): the CSV file (``.gz`` allowed).
        required (Sequence[str]): columns that must be present.
        aliases (dict[str, Sequence[str]] | None): canonical column name -> accepted
            spellings; the first spelling present is renamed to the canonical name.
        report (ConversionReport | None): where per-row errors are counted.
        encoding (str): text encoding of the file; UTF-8 (default) also accepts a
            byte-order mark.

    Yields:
        tuple[int, dict[str, str]]: the 1-based data row number (the header is row 0;
        quoted multi-line fields count as one row) and the row keyed by column name.
    """
    aliases = aliases or {}
    stream, lines = _open_lines(path, encoding)
    with stream:
        reader = csv.reader(lines)
        try:
            header = next(reader)
        except StopIteration:
            raise ConversionError(f'{path}: empty file (no header row)') from None
        except UnicodeDecodeError as e:
            raise _decode_error(path, lines, 0, e) from e
        except (EOFError, OSError, csv.Error) as e:
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
        except UnicodeDecodeError as e:
            raise _decode_error(path, lines, row_no + 1, e) from e
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


def parse_int(value, column):
    """An integer cell: ``"3056"`` and integral floats such as ``"3056.0"`` (how
    pandas writes an integer column that had a blank) give 3056; ``"3056.5"``,
    blanks, NaN, infinities and text are a ValueError naming the column and the
    value (the caller's report message adds file and row). The one integer
    parser of the converters (image sizes, certainties).

    Args:
        value (str): the cell.
        column (str): its column, for the message.

    Returns:
        int
    """
    text = str(value).strip()
    try:
        return int(text)
    except ValueError:
        pass
    try:
        number = float(text)
    except ValueError:
        number = math.nan
    if not math.isfinite(number) or number != math.floor(number):
        raise ValueError(f'column {column!r} is not an integer: {value!r}')
    return int(number)
