"""Which local image a Docker job of the emulator runs in.

A job names its image in ``algorithmSpecification.containerImage.uri``. Braket's own
images (the base jobs image and its PyTorch / TensorFlow siblings, in Braket's ECR
registry) are not on a developer's machine, so jobs that name one run in the stand-in
image the operator chose; without one they fail, saying how to choose it, rather than run
in something the job did not ask for. Any other image is the user's: it runs as named,
and must be present locally (the emulator pulls nothing).
"""

from __future__ import annotations

import re

from .._braket import base_image_uri

__all__ = ["ImageUnavailable", "is_braket_image", "job_image"]

# The account of Braket's image registry, read off the base image's address.
_BRAKET_REGISTRY = base_image_uri("us-east-1").split(".", 1)[0]
_BRAKET_IMAGE = re.compile(
    rf"^{_BRAKET_REGISTRY}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com(\.cn)?/amazon-braket-[^/]+$"
)


class ImageUnavailable(Exception):
    """The job's image cannot run here; the message is the job's failure reason."""


def is_braket_image(uri: str) -> bool:
    """Whether ``uri`` is one of Braket's own job images (any region, tag or digest)."""
    repository = uri.split("@", 1)[0].rsplit(":", 1)[0]
    return bool(_BRAKET_IMAGE.fullmatch(repository))


def job_image(uri: str | None, *, braket_image: str | None) -> str:
    """The local image a job asking for ``uri`` runs in.

    Args:
        uri: The job's ``containerImage.uri``; ``None`` means Braket's base image.
        braket_image: The local image that stands in for Braket's own, or ``None``.

    Raises:
        ImageUnavailable: The job asks for a Braket image and no stand-in was chosen.
    """
    if uri is not None and not is_braket_image(uri):
        return uri
    if braket_image is None:
        asked = uri or "Braket's base jobs image"
        raise ImageUnavailable(
            f"ClientError: the job's image {asked} is one of Braket's own, which this "
            "emulator cannot run: start it with --docker-image IMAGE (a local image with "
            "python3; RuntimeJobRunner(braket_image=...) in Python) to run such jobs in IMAGE"
        )
    return braket_image
