"""Placeholder: replaced by the decision rules."""

from webhook import responses
from webhook.admission import AdmissionRequest, AdmissionResponse


def mutate(request: AdmissionRequest) -> AdmissionResponse:
    return responses.allowed(request.uid)


def validate(request: AdmissionRequest) -> AdmissionResponse:
    return responses.allowed(request.uid)
