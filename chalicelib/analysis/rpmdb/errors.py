"""The error that the rpm database readers and the header parser raise."""

from __future__ import annotations


class RpmdbError(ValueError):
    """A package database or header blob that is corrupt, truncated or of an unknown format.

    The cataloger turns it into an `Unknown` for the database file, keeping the packages read
    before the error.
    """
