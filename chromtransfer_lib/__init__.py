"""ChromTransfer book: a thin library behind a rerunnable reproduction of ChromTransfer.

Salvatore, Horlacher et al. (2023) "Transfer learning identifies sequence determinants of
cell-type specific regulatory element accessibility", NAR Genomics and Bioinformatics.
"""

__version__ = "0.1.0"
