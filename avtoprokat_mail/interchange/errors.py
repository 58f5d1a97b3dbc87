"""The one exception of the interchange package."""


class InterchangeError(Exception):
    """The file cannot be read or written; ``str(error)`` is a Russian message for the user.

    The message names the file, so it can be shown as it is.
    """
