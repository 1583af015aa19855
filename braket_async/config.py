"""Configuration objects for creating jobs (attrs classes, snake_case fields).

The service's camelCase names (``localPath``, ``s3Uri``) appear only where requests
are serialized.
"""

from __future__ import annotations

import attrs

__all__ = ["CheckpointConfig"]

DEFAULT_CHECKPOINT_PATH = "/opt/jobs/checkpoints"


@attrs.frozen(kw_only=True)
class CheckpointConfig:
    """Where a job keeps its checkpoints.

    Attributes:
        local_path: The folder inside the job where checkpoints are written; the job
            sees it as ``AMZN_BRAKET_CHECKPOINT_DIR``.
        s3_uri: Where remote jobs sync the folder to; not used by local jobs.
    """

    local_path: str = DEFAULT_CHECKPOINT_PATH
    s3_uri: str | None = None
