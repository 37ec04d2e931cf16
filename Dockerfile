# syntax=docker/dockerfile:1

# The build stage installs the package and its dependencies from
# pyproject.toml into a virtual environment; the runtime stage copies only
# that environment, so no compiler, pip cache or source tree ships.
FROM python:3.11-slim-bookworm AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

WORKDIR /src
COPY pyproject.toml README.md ./
COPY webhook ./webhook
# pip compiles the bytecode of everything it installs, so the runtime image
# never has to write any (its root filesystem is read-only).
RUN pip install --no-cache-dir .


FROM python:3.11-slim-bookworm

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    INFERENCEPOOL_WEBHOOK_HOST=0.0.0.0

COPY --from=build /opt/venv /opt/venv

# A fixed numeric UID and GID (the Deployment's runAsUser and runAsGroup), so
# runAsNonRoot can be checked without a passwd entry.
USER 65532:65532

EXPOSE 9443
ENTRYPOINT ["inferencepool-webhook"]
CMD ["serve", "--cert-dir", "/etc/webhook/certs"]
