"""marsad (مرصد): media monitoring for Arabic news."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("marsad")
except PackageNotFoundError:  # running from a source tree without an install
    __version__ = "0.0.0+local"
