"""The network, training runs, cross-validation and subsampling grids, and parallel training.

See ARCHITECTURE.md for the layers and what may import what.
"""
