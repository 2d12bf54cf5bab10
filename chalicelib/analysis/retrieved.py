"""Retrieved files: the content of configured files, stored whole for the `retrieved_files` gate.

Anchore Engine's `retrieve_files` analyzer stores `/etc/passwd` by default, up to 1000 KB per
file, base64-encoded. The layer reader keeps the content of the configured paths, and
`retrieve_files` reads it from the squashed view once all layers are applied.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Sequence

from chalicelib.analysis.interface import RetrievedFile, Unknown
from chalicelib.analysis.squash import SquashedView, SymlinkLoopError

logger = logging.getLogger(__name__)


def retrieve_files(
    view: SquashedView,
    paths: Sequence[str],
    max_size: int,
    *,
    reported: Sequence[str] = (),
) -> tuple[list[RetrievedFile], list[Unknown]]:
    """Return the content of each file in `paths` that the image has, and the files not stored.

    Symbolic links are followed, and paths that name no regular file are skipped. A file over
    `max_size` bytes, or a link whose target's content was not kept, becomes an `Unknown`,
    except for the paths in `reported`, whose link problems the caller reports already.
    """
    retrieved: list[RetrievedFile] = []
    problems: list[Unknown] = []
    for path in dict.fromkeys(paths):
        try:
            real = view.resolve(path)
        except SymlinkLoopError as error:
            if path not in reported:
                problems.append(Unknown(location=path, reason=f"not retrieved: {error}"))
            continue
        entry = view.get(real)
        if entry is None or not entry.has_content:
            continue
        if entry.size > max_size:
            problems.append(
                Unknown(
                    location=path,
                    reason=f"file is {entry.size} bytes, over the limit of {max_size} bytes "
                    "for retrieved files; to store it, raise the limit with `plimsoll analyze "
                    "--retrieved-file-max-size` or the RETRIEVED_FILE_MAX_SIZE setting of the "
                    "service",
                )
            )
            continue
        content = view.content(real)
        if content is None:
            # The layer reader reports a file over its own limit for kept files.
            if real != path and path not in reported:
                reason = f"links to {real}, whose content was not kept; retrieve {real} instead"
                problems.append(Unknown(location=path, reason=reason))
            continue
        retrieved.append(
            RetrievedFile(path=path, b64_content=base64.b64encode(content).decode("ascii"))
        )
    logger.debug("retrieved %d of %d configured files", len(retrieved), len(paths))
    return retrieved, problems
