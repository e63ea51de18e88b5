"""Book orchestration: the stage graph the chapters call (ensure_*), tables, figures, ledger,
runner, browser check, calibration.

See ARCHITECTURE.md for the layers and what may import what.
"""
