"""jctl: the local workbench for JourneyForge journey specs."""

__version__ = "0.1.0"
