# syntax=docker/dockerfile:1
# OrderOps: one image for the API (`orderops serve --no-worker`), workers (`orderops worker`),
# migrations (`orderops db upgrade`) and the vendor sandboxes (`orderops sandbox serve`).
#
# Reproducible: third-party packages come only from requirements.lock, pinned with hashes
# (pip --require-hashes refuses anything else); the project itself is installed without
# dependencies. Refresh the lock after changing pyproject.toml's dependencies:
#   pip install pip-tools
#   pip-compile --generate-hashes --strip-extras --no-emit-index-url --no-emit-find-links \
#     --allow-unsafe --all-build-deps \
#     --output-file=requirements.lock pyproject.toml

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /build
RUN python -m venv /opt/orderops
COPY requirements.lock ./
RUN /opt/orderops/bin/pip install --require-hashes --no-deps -r requirements.lock
COPY pyproject.toml README.md LICENSE ./
COPY src ./src
RUN /opt/orderops/bin/pip install --no-deps --no-build-isolation . \
 && /opt/orderops/bin/python -m compileall -q /opt/orderops/lib

FROM ${PYTHON_IMAGE} AS runtime
ENV PATH=/opt/orderops/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    ORDEROPS_HOST=0.0.0.0 \
    ORDEROPS_PORT=8000 \
    ORDEROPS_DATA_DIR=/var/lib/orderops
RUN groupadd --system --gid 10001 orderops \
 && useradd --system --uid 10001 --gid orderops --home-dir /var/lib/orderops \
      --shell /usr/sbin/nologin orderops \
 && mkdir -p /var/lib/orderops && chown orderops:orderops /var/lib/orderops
COPY --from=build /opt/orderops /opt/orderops
USER 10001:10001
WORKDIR /var/lib/orderops
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen(f\"http://127.0.0.1:{os.environ.get('ORDEROPS_PORT', '8000')}/healthz\", timeout=2)"]
ENTRYPOINT ["orderops"]
CMD ["serve", "--no-worker"]
