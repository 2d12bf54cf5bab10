"""Errors of the use-case layer; the API maps each to an HTTP status."""

from __future__ import annotations


class ServiceError(Exception):
    """Base error of a use case; the message is shown to the API client."""

    status_code = 500


class InvalidRequestError(ServiceError):
    """The request is malformed or names an invalid value."""

    status_code = 400

    def __init__(self, message: str, detail: dict | None = None) -> None:
        super().__init__(message)
        self.detail = detail or {}


class ResourceNotFoundError(ServiceError):
    """The image, policy or evaluation named in the request does not exist."""

    status_code = 404


class ConflictError(ServiceError):
    """The request conflicts with stored state (for example deleting the active policy)."""

    status_code = 409


class UpstreamError(ServiceError):
    """A registry or feed source the request needs failed or refused."""

    status_code = 502
