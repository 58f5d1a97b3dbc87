"""avtoprokat_mail: the mass-mailing tool of a car-rental office."""

APP_NAME = "Автопрокат — рассылка"


def __getattr__(name: str) -> str:
    """``__version__``, read from the installed package's metadata on first use only:
    importlib.metadata costs every command's start-up ~10 ms, and only --version and the
    «О программе» window (and the SMS gateway's User-Agent) need it."""
    if name != "__version__":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib.metadata import PackageNotFoundError, version

    try:
        found = version("avtoprokat-mail")
    except PackageNotFoundError:  # running from a source tree that was never installed
        found = "0.0.0"
    globals()["__version__"] = found
    return found
