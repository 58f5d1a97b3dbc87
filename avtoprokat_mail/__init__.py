"""avtoprokat_mail: the mass-mailing tool of a car-rental office."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("avtoprokat-mail")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"

APP_NAME = "Автопрокат — рассылка"
