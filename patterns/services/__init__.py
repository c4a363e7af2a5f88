"""Services of the patterns domain: pattern detection and enqueuing it, the suggestion lifecycle, shipment notices."""

from patterns.services.analysis_jobs import analysis_unique_key, pattern_analysis_enqueue
from patterns.services.detection import AnalysisResult, DetectedLane, analyze_patterns
from patterns.services.shipments import shipment_status_notice
from patterns.services.suggestions import suggestion_accept, suggestion_reject, suggestions_expire

__all__ = [
    "AnalysisResult",
    "DetectedLane",
    "analysis_unique_key",
    "analyze_patterns",
    "pattern_analysis_enqueue",
    "shipment_status_notice",
    "suggestion_accept",
    "suggestion_reject",
    "suggestions_expire",
]
