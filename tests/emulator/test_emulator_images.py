"""Which image a Docker job of the emulator runs in."""

from __future__ import annotations

import pytest

from braket_async._braket import BASE_IMAGE_REGIONS, base_image_uri
from braket_async.emulator._images import ImageUnavailable, is_braket_image, job_image

BRAKET = "292282985366.dkr.ecr.{region}.amazonaws.com/amazon-braket-{kind}-jobs{suffix}"


@pytest.mark.parametrize("region", sorted(BASE_IMAGE_REGIONS))
def test_every_base_image_is_braket_s(region: str) -> None:
    assert is_braket_image(base_image_uri(region))


@pytest.mark.parametrize(
    ("uri", "braket_s"),
    [
        (BRAKET.format(region="us-west-2", kind="pytorch", suffix=":2.0-gpu-py310"), True),
        (BRAKET.format(region="eu-west-2", kind="tensorflow", suffix="@sha256:ab12"), True),
        ("292282985366.dkr.ecr.us-east-1.amazonaws.com/my-own:latest", False),
        ("123456789012.dkr.ecr.us-east-1.amazonaws.com/amazon-braket-base-jobs:latest", False),
        ("braket-async-test:python3", False),
    ],
)
def test_braket_s_images_are_told_from_users(uri: str, braket_s: bool) -> None:
    assert is_braket_image(uri) is braket_s


def test_a_user_image_runs_as_named_and_braket_s_in_the_stand_in() -> None:
    own = "123456789012.dkr.ecr.us-east-1.amazonaws.com/mine:1"
    assert job_image(own, braket_image=None) == own
    assert job_image(own, braket_image="stand-in:1") == own
    assert job_image(base_image_uri("us-east-1"), braket_image="stand-in:1") == "stand-in:1"
    assert job_image(None, braket_image="stand-in:1") == "stand-in:1"
    with pytest.raises(ImageUnavailable, match="--docker-image IMAGE"):
        job_image(None, braket_image=None)
