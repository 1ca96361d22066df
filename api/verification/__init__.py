"""Checking a server's settings against the real mail servers (issue 13)."""
