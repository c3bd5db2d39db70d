"""Fixtures for the tests under ``tests/registry``.

The registry fixtures (``registry_noauth``, ``registry_basic``, ``registry_token``, ``distribution``,
``oci_registry``) live in :mod:`tests.registry.servers`, which ``tests/conftest.py`` registers as a plugin
for the whole suite; nothing needs re-exporting here.
"""
