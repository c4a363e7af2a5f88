"""Services of the patterns domain (functions that write): pattern detection and the suggestion lifecycle."""

from patterns.services.analysis_jobs import analysis_unique_key, pattern_analysis_enqueue
from patterns.services.detection import AnalysisResult, DetectedLane, analyze_patterns
from patterns.services.suggestions import suggestion_accept, suggestion_reject, suggestions_expire

__all__ = [
    "AnalysisResult",
    "DetectedLane",
    "analysis_unique_key",
    "analyze_patterns",
    "pattern_analysis_enqueue",
    "suggestion_accept",
    "suggestion_reject",
    "suggestions_expire",
]
