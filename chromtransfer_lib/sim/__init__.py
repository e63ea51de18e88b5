"""The simulated ENCODE-like world: background genome, planted JASPAR sites, regions, label files, truth tables.

See ARCHITECTURE.md for the layers and what may import what.
"""
