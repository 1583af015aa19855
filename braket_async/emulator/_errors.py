"""Errors the emulated service answers with, in the shapes of botocore's Braket model.

A handler raises :class:`ApiError`; the server turns it into the status code the model
gives the error shape, an ``x-amzn-ErrorType`` header and a ``{"message": ...}`` body,
which botocore parses into a ``ClientError`` whose ``Error.Code`` is the shape's name.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "ApiError",
    "conflict",
    "internal_error",
    "must_not_be_null",
    "not_found",
    "throttled",
    "validation_error",
]

# Status codes of the error shapes of botocore's Braket model (``error.httpStatusCode``);
# kept here so that raising an error does not need the model at hand.
_STATUS = {
    "ValidationException": 400,
    # Not a shape of the model: the real service's answer to some bad request bodies
    # (see ``_wire``); botocore reads its name from the x-amzn-ErrorType header.
    "BadRequestException": 400,
    "AccessDeniedException": 403,
    "ResourceNotFoundException": 404,
    "ConflictException": 409,
    "DeviceRetiredException": 410,
    "DeviceOfflineException": 424,
    "ServiceQuotaExceededException": 402,
    "ThrottlingException": 429,
    "InternalServiceException": 500,
}


class ApiError(Exception):
    """An error answer of the service.

    Args:
        code: The error shape's name, e.g. ``"ValidationException"``.
        message: The human-readable message.
    """

    def __init__(self, code: str, message: str) -> None:
        if code not in _STATUS:
            raise ValueError(f"unknown error shape {code!r}")
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.code, self.message), self.__dict__)

    @property
    def status(self) -> int:
        """The HTTP status code of this error shape."""
        return _STATUS[self.code]

    def body(self) -> dict[str, Any]:
        """The JSON body of the answer."""
        return {"message": self.message}


def validation_error(message: str) -> ApiError:
    """A ``ValidationException`` (400)."""
    return ApiError("ValidationException", message)


def must_not_be_null(member: str) -> str:
    """The message of a required ``member`` that is missing."""
    return f"Value null at '{member}' failed to satisfy constraint: Member must not be null"


def not_found(message: str) -> ApiError:
    """A ``ResourceNotFoundException`` (404)."""
    return ApiError("ResourceNotFoundException", message)


def conflict(message: str) -> ApiError:
    """A ``ConflictException`` (409)."""
    return ApiError("ConflictException", message)


def throttled(operation: str) -> ApiError:
    """A ``ThrottlingException`` (429) for ``operation``."""
    return ApiError("ThrottlingException", f"Rate exceeded for {operation}")


def internal_error(message: str = "An internal service error occurred") -> ApiError:
    """An ``InternalServiceException`` (500)."""
    return ApiError("InternalServiceException", message)
