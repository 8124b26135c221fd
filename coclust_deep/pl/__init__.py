"""Scanpy-style plots of co-clustering results."""
