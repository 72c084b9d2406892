"""Evaluation: metrics, per-database protocols, cross-rank gathering, reports and plots.

Plots (matplotlib) live in `facebehavior.evaluation.plots` and are not imported here.
"""

from facebehavior.evaluation.evaluate import confusion_matrices, evaluate_predictions, flatten_results
from facebehavior.evaluation.gather import gather_arrays
from facebehavior.evaluation.metrics import (
    abaw_mtl_score, accuracy, afa_score, average_f1, ccc, confusion, emotionet_expression_score,
    f1_per_label, macro_f1, mean_diag_confusion, mean_f1, total_accuracy, tune_thresholds,
)
from facebehavior.evaluation.protocols import (
    TaskProtocol, protocol_for, register_preset, register_protocol, register_protocols, unregister_protocol,
)
from facebehavior.evaluation.report import comparison_table, load_results, write_report

__all__ = [
    "abaw_mtl_score", "accuracy", "afa_score", "average_f1", "ccc", "comparison_table", "confusion",
    "confusion_matrices", "emotionet_expression_score", "evaluate_predictions", "f1_per_label",
    "flatten_results", "gather_arrays", "load_results", "macro_f1", "mean_diag_confusion", "mean_f1",
    "protocol_for", "register_preset", "register_protocol", "register_protocols", "TaskProtocol", "total_accuracy",
    "tune_thresholds", "unregister_protocol", "write_report",
]
