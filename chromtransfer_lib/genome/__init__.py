"""Sequence-level reference data: integer codes and one-hot, FASTA access, BED/region tables, splits, JASPAR matrices.

See ARCHITECTURE.md for the layers and what may import what.
"""
