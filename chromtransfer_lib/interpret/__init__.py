"""Attribution (gradient x input, ISM), exact-p motif scanning, KS enrichment, look-alike motif
clusters.

See ARCHITECTURE.md for the layers and what may import what.
"""
