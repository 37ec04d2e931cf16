"""Admission webhook for InferencePool (inference.networking.k8s.io/v1)."""

__version__ = "0.1.0"
