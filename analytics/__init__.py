"""Childhood Cancer Outcomes Explorer: every number the app shows is computed here.

This package never imports Streamlit. Its command-line interface is `python -m analytics --help`.
"""
