"""The browser tests' fixtures live in browsing.py: tests import its names from there, never from ``conftest``
(tests/api has a conftest too, and only one module named ``conftest`` can be imported)."""

from browsing import browser, page, playwright, served, sounds

__all__ = ["browser", "page", "playwright", "served", "sounds"]
