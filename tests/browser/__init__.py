"""Browser tests: the dashboard served by `python serve.py` and driven in headless Chromium.

A package so that its test modules never clash by name with the AppTest modules in `tests/`.
"""
