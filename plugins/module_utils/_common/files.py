# -*- coding: utf-8 -*-
# Copyright (c) machinist.podman contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""How the collection replaces a file: never in place, so a reader sees the old file or the new one
and a failure leaves nothing half-written.

Note that this module util is PRIVATE to the collection: its interface may change at any time.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Generator
    from typing import IO


@contextlib.contextmanager
def replacing(path: str, binary: bool = False, mode: int | None = None, durable: bool = False) -> Generator[IO, None, None]:
    """Yields a new file beside `path` that takes its place in one rename when the block ends without an
    error, and is removed when it ends with one. The file has a random name and is made with O_EXCL, mode
    0600 (never a fixed name, which a planted link would make the write follow); `mode` sets another mode
    before the rename; `durable` syncs it to the disk first."""
    folder = os.path.dirname(path) or '.'
    fd, tmp = tempfile.mkstemp(dir=folder, prefix='.%s.tmp-' % os.path.basename(path))
    try:
        with os.fdopen(fd, 'wb' if binary else 'w') as f:
            yield f
            f.flush()
            if mode is not None and hasattr(os, 'fchmod'):
                os.fchmod(f.fileno(), mode)
            if durable:
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
