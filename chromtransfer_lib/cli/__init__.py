"""The ``chromtransfer`` command line.

See ARCHITECTURE.md for the layers and what may import what.
"""
