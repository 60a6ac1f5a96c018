"""Streamlit building blocks shared by the views; the domain below never imports these."""
