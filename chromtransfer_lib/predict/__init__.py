"""A user's own data: predict any number of regions, attribute, motifs.

The same code paths as the book (:mod:`chromtransfer_lib.data.pipeline` compiled prediction,
:mod:`chromtransfer_lib.interpret.attribution`, :mod:`~chromtransfer_lib.interpret.scan`,
:mod:`~chromtransfer_lib.interpret.enrichment`), with inputs given as paths:

* :func:`predict_regions` (:mod:`.predictions`) — streams a BED of any size in chunks
  (:func:`~chromtransfer_lib.genome.regions.read_bed` with ``chunk_size`` → recentre → extract →
  predict → append to a temporary TSV → atomic rename), so memory does not grow with it;
* :func:`attribute_regions` (:mod:`.attributions`) — gradient × input (and ISM) of a model's
  logit (default, as in the book) or probability on regions;
* :func:`motif_report` and :func:`motif_enrichment` (:mod:`.motifs`) — KS enrichment of
  JASPAR sites' attributions.

Regions of any width are recentred on their midpoint to the model's input length ``L``
(``start = (start + end) // 2 - L // 2``, :func:`extract_windows`). Windows that run off a
chromosome end are padded with ``N``; regions themselves must lie on the chromosome. Every
output is written to a temporary name and renamed when complete, and carries its provenance
(:func:`chromtransfer_lib.data.own.provenance`): sha256 of the model, the genome and the region
file, package versions and the git SHA. See ARCHITECTURE.md for the layers.
"""

from chromtransfer_lib.predict.attributions import (
    AttributionFolderError,
    Attributions,
    attribute_regions,
    load_attributions,
)
from chromtransfer_lib.predict.motifs import (
    MotifInputError,
    MotifResult,
    MotifSettings,
    motif_enrichment,
    motif_report,
    write_motif_report,
)
from chromtransfer_lib.predict.predictions import PredictSummary, predict_regions, read_predictions
from chromtransfer_lib.predict.windows import extract_windows, read_windows

__all__ = [
    "AttributionFolderError",
    "Attributions",
    "MotifInputError",
    "MotifResult",
    "MotifSettings",
    "PredictSummary",
    "attribute_regions",
    "extract_windows",
    "load_attributions",
    "motif_enrichment",
    "motif_report",
    "predict_regions",
    "read_predictions",
    "read_windows",
    "write_motif_report",
]
