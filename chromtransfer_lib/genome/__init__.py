"""Sequence-level reference data: codes and one-hot, FASTA, BED/region tables, splits, JASPAR.

See ARCHITECTURE.md for the layers and what may import what.
"""
