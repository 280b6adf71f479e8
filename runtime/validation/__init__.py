"""Checking the user's files: problems as values, Cerberus schemas, semantic checks."""
