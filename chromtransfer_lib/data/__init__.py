"""Datasets and artifacts: prepared dataset folders, tf.data input pipelines and prediction, the
paper's inputs and their download manifest, users' own data.

See ARCHITECTURE.md for the layers and what may import what.
"""
