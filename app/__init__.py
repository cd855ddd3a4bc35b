"""Tracer: records how a claim travels between outlets and whether an official body denied it."""
