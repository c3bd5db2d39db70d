"""Registry servers for tests: distribution 2.8.2 fixtures, a token server, an in-process OCI 1.1 registry."""
