"""Fitted abstention calibrations, one JSON file per model (written by evals/calibrate.py).

Data only: imports nothing.
"""
