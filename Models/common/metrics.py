"""Evaluation metrics the recipes share."""
import numpy as np


def expected_calibration_error(confidence, correct, bins):
    """ECE over equal-width confidence bins (0, 1/bins], …, with a confidence of exactly 0 in the first bin: the share
    of items in each bin times the gap between its accuracy and its mean confidence, summed."""
    confidence, correct = np.asarray(confidence, dtype=float), np.asarray(correct, dtype=float)
    edges = np.linspace(0, 1, bins + 1)
    total = 0.0
    for a, b in zip(edges[:-1], edges[1:]):
        m = (confidence > a) & (confidence <= b) if a > 0 else (confidence >= a) & (confidence <= b)
        if m.any():
            total += m.mean() * abs(correct[m].mean() - confidence[m].mean())
    return float(total)
