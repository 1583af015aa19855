"""Stand-in for ``braket.jobs`` where the Amazon Braket SDK is not installed.

The bootstrap puts the folder holding this ``braket`` portion last on the user code's
``sys.path``: scripts written for the official SDK (``from braket.jobs import
save_job_result``) then run in images without it, and a real ``braket.jobs`` anywhere
earlier on the path wins. ``braket`` has no ``__init__.py`` here, on purpose: the
official distributions share ``braket`` as a namespace package, and a regular package,
even at the end of ``sys.path``, would replace that namespace and hide
``braket.circuits`` and the rest of a real installation.

Everything comes from :mod:`braket_async.jobs`, names and ``__all__`` alike.
"""

from braket_async import jobs as _source
from braket_async.jobs import *  # noqa: F403

__all__ = list(_source.__all__)
