"""Tests of the tlog transparency log."""
