"""The `studio` command. The entry point `studio = "studio.cli:main"` resolves through this re-export."""

from studio.cli.main import STREAMLIT_FLAGS, main

__all__ = ["STREAMLIT_FLAGS", "main"]
