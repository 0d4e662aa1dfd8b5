"""vidcolor: colorize black-and-white film."""

__version__ = "0.1.0"
