"""Test doubles at the runtime seam (never instead of the real runtimes, only beside)."""
