"""The simulated ENCODE-like world: genome, planted JASPAR sites, regions, labels, truth tables.

See ARCHITECTURE.md for the layers and what may import what.
"""
