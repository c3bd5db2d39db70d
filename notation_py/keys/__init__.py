"""Signing keys: local key files today; HSM (PKCS#11) and plugin keys plug in through the same interface."""
