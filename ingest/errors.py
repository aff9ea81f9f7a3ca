"""The one error type ingestion raises for bad input."""


class IngestError(ValueError):
    """Bad input data: the message names the file, line or id and says what to do."""
