"""The API tests' fixtures live in apiserver.py: tests import its names from there, never from ``conftest``
(tests/ and tests/browser have a conftest too, and only one module named ``conftest`` can be imported)."""

from apiserver import origin, other_tenant, server, strict_server, tenant

__all__ = ["origin", "other_tenant", "server", "strict_server", "tenant"]
