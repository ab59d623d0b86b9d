"""Counting and reporting of what a converter wrote, dropped and rejected."""
import logging
from collections import Counter, defaultdict

logger = logging.getLogger('gazeprior_mm.converters')


class ConversionError(RuntimeError):
    """A structural problem that stops a conversion (missing columns, truncated or
    unparseable file, missing input file). The message names the file and, where one
    exists, the row."""


class ConversionReport:
    """Counters of one conversion run, printed at the end of every converter.

    Four kinds of events are counted, each by reason:

    - ``written``: output items (images written to an annotation file, gaze sets
      attached, lesions attached, ...);
    - ``rejected``: input rows skipped because they are wrong (malformed row, unknown
      DICOM id, missing image, duplicated reading, ...): never silent, each keeps the
      first ``max_examples`` messages naming file and row;
    - ``dropped``: fixations removed by a documented filter (off-image, invalid, ...);
    - ``skipped``: rows left out on purpose (lateral view, discarded reading, ...);
    - ``notes``: documented fallbacks that keep the row (blank labels, rescaled grid).

    Args:
        name (str): what is converted, used as the report's title.
        max_examples (int): messages kept (and logged) per reason. Defaults to 5.
    """

    KINDS = ('written', 'rejected', 'dropped', 'skipped', 'notes')

    def __init__(self, name, max_examples=5):
        self.name = name
        self.max_examples = max_examples
        self.counts = {kind: Counter() for kind in self.KINDS}
        self.examples = defaultdict(list)

    def count(self, kind, reason, n=1, message=None):
        """Add ``n`` events of ``kind`` for ``reason``; keep and log ``message``."""
        if kind not in self.counts:
            raise ValueError(f'unknown report kind {kind!r}, expected {self.KINDS}')
        if n <= 0:
            return
        self.counts[kind][reason] += int(n)
        if message is not None and len(self.examples[kind, reason]) < self.max_examples:
            self.examples[kind, reason].append(message)
            if kind in ('rejected', 'notes'):
                logger.warning('%s: %s (%s): %s', self.name, kind, reason, message)

    def reject(self, reason, path, row, detail):
        """Count one rejected input row of file ``path`` (1-based data row number
        ``row``, or None for the whole file) with a message naming both."""
        where = f'{path}' if row is None else f'{path}, row {row}'
        self.count('rejected', reason, message=f'{where}: {detail}')

    def total(self, kind):
        return sum(self.counts[kind].values())

    def to_dict(self):
        """A JSON-able summary: ``{kind: {reason: count}}`` plus examples."""
        out = {kind: dict(sorted(self.counts[kind].items())) for kind in self.KINDS}
        out['examples'] = {f'{kind}/{reason}': list(msgs)
                           for (kind, reason), msgs in sorted(self.examples.items())}
        return out

    def format(self):
        """The human-readable final report of a converter."""
        lines = [f'== {self.name}: conversion report ==']
        for kind in self.KINDS:
            # 'written' mixes units (images, gaze sets, fixations): no total
            lines.append(f'{kind}:' if kind == 'written' else
                         f'{kind}: {self.total(kind)}')
            for reason, n in sorted(self.counts[kind].items()):
                lines.append(f'  {reason}: {n}')
                for msg in self.examples.get((kind, reason), []):
                    lines.append(f'      e.g. {msg}')
        return '\n'.join(lines)

    def __str__(self):
        return self.format()
