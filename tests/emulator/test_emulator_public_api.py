"""The emulator's public names, pinned."""

from __future__ import annotations

import braket_async.emulator
import braket_async.emulator.testing


def test_emulator_names() -> None:
    assert set(braket_async.emulator.__all__) == {
        "DEFAULT_RATES",
        "DEVICES",
        "ApiError",
        "AwsEndpoint",
        "BraketEmulator",
        "BraketService",
        "CallStats",
        "Device",
        "EmulatorSettings",
        "FakeRunner",
        "Faults",
        "JobControl",
        "JobRecord",
        "JobRunner",
        "QuantumTaskRecord",
        "QuantumTasks",
        "Rate",
        "RateLimits",
        "RuntimeJobRunner",
        "SettingsError",
        "SimulatorPool",
    }
    for name in braket_async.emulator.__all__:
        assert getattr(braket_async.emulator, name) is not None


def test_testing_names() -> None:
    assert set(braket_async.emulator.testing.__all__) == {
        "FAKE_CREDENTIALS",
        "EmulatorStack",
        "clean_aws_environment",
        "emulator_stack",
        "moto_server",
    }


def test_clean_environment_drops_every_aws_variable() -> None:
    cleaned = braket_async.emulator.testing.clean_aws_environment(
        {"AWS_PROFILE": "prod", "AWS_ENDPOINT_URL_BRAKET": "https://real", "HOME": "/root"}
    )
    assert "AWS_PROFILE" not in cleaned
    assert "AWS_ENDPOINT_URL_BRAKET" not in cleaned
    assert cleaned["HOME"] == "/root"
    assert cleaned["AWS_ACCESS_KEY_ID"] == "testing"
