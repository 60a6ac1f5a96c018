"""Studio: a browser studio for generating, iterating on and reviewing images with Gemini image models."""

__version__ = "0.1.0"
