"""Errors raised by the patterns services; the admin, API and commands show their messages as they are."""


class PatternsError(Exception):
    """Base class for errors a caller is expected to handle and show to a user."""


class AnalysisInputError(PatternsError):
    """A pattern analysis was asked for with arguments that cannot work (unknown organization, bad window)."""


class SuggestionError(PatternsError):
    """A lane suggestion cannot be accepted or rejected as asked; nothing was changed."""


class SuggestionStateError(SuggestionError):
    """The suggestion is not in a state that allows the change (e.g. accepting a rejected suggestion)."""


class SuggestionExpiredError(SuggestionStateError):
    """The suggestion is past its expiry date."""


class LaneNameClashError(SuggestionError):
    """The dedicated lane name is already taken in the organization."""


class SuggestionValidationError(SuggestionError):
    """The accept input is invalid (workers of another organization, auto-assign without a driver …)."""

    def __init__(self, message: str, errors: dict[str, list[str]] | None = None) -> None:
        super().__init__(message)
        self.errors = errors or {}
