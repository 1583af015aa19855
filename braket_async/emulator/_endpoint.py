"""Where the emulator's jobs and runner find the AWS services other than Braket."""

from __future__ import annotations

import os

import attrs

__all__ = ["AwsEndpoint"]

# Services a job talks to besides Braket, as named in AWS_ENDPOINT_URL_<SERVICE>.
_JOB_SERVICES = ("S3", "CLOUDWATCH_LOGS", "STS", "IAM")


@attrs.frozen(kw_only=True)
class AwsEndpoint:
    """Where the runner (and the jobs it runs) find S3 and CloudWatch Logs.

    Attributes:
        endpoint_url: The endpoint of every AWS service but Braket (a moto server).
        region: The region.
        access_key_id: The access key given to clients and jobs.
        secret_access_key: The secret key given to clients and jobs.
    """

    endpoint_url: str
    region: str = "us-east-1"
    access_key_id: str = "testing"
    secret_access_key: str = attrs.field(default="testing", repr=False)

    def client_kwargs(self) -> dict[str, str]:
        """Keyword arguments of ``create_client`` for this endpoint."""
        return {
            "endpoint_url": self.endpoint_url,
            "region_name": self.region,
            "aws_access_key_id": self.access_key_id,
            "aws_secret_access_key": self.secret_access_key,
        }

    def job_environment(self, braket_url: str) -> dict[str, str]:
        """What a job needs to reach the same services, through its environment only.

        Runtimes pass the emulator's own environment on to jobs, so service-specific
        endpoints a developer may have set are overridden for the services jobs use, and
        config files are hidden: a profile then fails to resolve instead of reaching a
        real account.
        """
        environment = {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            **{f"AWS_ENDPOINT_URL_{service}": self.endpoint_url for service in _JOB_SERVICES},
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
            "AWS_ACCESS_KEY_ID": self.access_key_id,
            "AWS_SECRET_ACCESS_KEY": self.secret_access_key,
        }
        if braket_url:
            environment["AWS_ENDPOINT_URL_BRAKET"] = braket_url
        return environment
