"""marsad (مرصد): media monitoring for Arabic news."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("marsad")
except PackageNotFoundError:  # running from a source tree without an install
    __version__ = "0.0.0+local"

__all__ = ["__version__", "normalise"]


def normalise(text: str) -> str:
    """`text` folded as marsad folds `text_norm` and `norm` (the default, aggressive level:
    diacritics, tatweel, alef and hamza forms, ta marbuta, alef maqsura, ligatures, digits),
    so a filter written by hand compares like with like: `norm == normalise("فؤاد حسين")`.

    Imported on first call: `import marsad` stays cheap for the CLI."""
    from marsad.text.arabic import normalise as fold

    return fold(text, "aggressive").text
