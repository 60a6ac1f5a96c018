"""The Streamlit app: entry (main.py), screens/ (the pages), widgets/ and static/. Streamlit is imported only here.

The pages folder is ``screens/``, not ``pages/``: Streamlit treats a ``pages/`` folder beside the entry script as
its older multipage mode and runs every script through it, which drops widget state across page switches.
"""
