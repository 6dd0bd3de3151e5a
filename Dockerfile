# syntax=docker/dockerfile:1
# One multi-target Dockerfile for every InteraRec service. Build one image per service:
#   docker build --target gateway -t ghcr.io/example/interarec-gateway:0.1.0 .
# Targets: gateway, storefront-api, summarizer, decomposer, optimizer, demo-shop.
# Final images hold the virtualenv and the runtime libraries only: no compiler, no pip cache, non-root.

ARG PYTHON_IMAGE=python:3.11.13-slim-bookworm

# --- build: install the project and its dependencies into /opt/venv --------------------------------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
WORKDIR /src
COPY pyproject.toml README.md ./
COPY proto ./proto
COPY services ./services
# Every dependency ships binary wheels for linux/amd64 and arm64, so no build tools are needed here.
RUN /opt/venv/bin/pip install --only-binary=:all: --no-binary=interarec . \
 && find /opt/venv -name '__pycache__' -prune -exec rm -rf {} +

# --- base: runtime libraries shared by every service ------------------------------------------------
FROM ${PYTHON_IMAGE} AS base
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    INTERAREC_VAR_DIR=/var/lib/interarec/state \
    INTERAREC_CATALOG_PATH=/var/lib/interarec/catalog/catalog.parquet
# DejaVu: the demo catalog draws its product images with it (the chart's init container generates it).
RUN apt-get update \
 && apt-get install -y --no-install-recommends fonts-dejavu-core=2.37-6 \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 interarec \
 && useradd --system --uid 10001 --gid interarec --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin interarec \
 && mkdir -p /var/lib/interarec/state /var/lib/interarec/catalog \
 && chown -R 10001:10001 /var/lib/interarec
WORKDIR /var/lib/interarec

FROM base AS runtime
COPY --from=build /opt/venv /opt/venv
USER 10001:10001

# --- one target per service --------------------------------------------------------------------------
FROM runtime AS gateway
ENV INTERAREC_GATEWAY_HOST=0.0.0.0 INTERAREC_GATEWAY_PORT=8500
EXPOSE 8500
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
  CMD ["python", "-m", "services.ops.healthcheck", "INTERAREC_GATEWAY_PORT", "8500"]
CMD ["python", "-m", "services.gateway"]

FROM runtime AS decomposer
ENV INTERAREC_WEB_BIND=0.0.0.0 INTERAREC_DECOMPOSER_PORT=8602
EXPOSE 8602
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
  CMD ["python", "-m", "services.ops.healthcheck", "INTERAREC_DECOMPOSER_PORT", "8602"]
CMD ["python", "-m", "services.decomposer"]

FROM runtime AS optimizer
ENV INTERAREC_WEB_BIND=0.0.0.0 INTERAREC_OPTIMIZER_PORT=8603
EXPOSE 8603
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
  CMD ["python", "-m", "services.ops.healthcheck", "INTERAREC_OPTIMIZER_PORT", "8603"]
CMD ["python", "-m", "services.optimizer"]

FROM runtime AS demo-shop
ENV INTERAREC_SHOP_HOST=0.0.0.0 INTERAREC_SHOP_PORT=8700
EXPOSE 8700
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
  CMD ["python", "-m", "services.ops.healthcheck", "INTERAREC_SHOP_PORT", "8700"]
CMD ["python", "-m", "services.demo_shop"]

# Tesseract OCR: the summarizer's embedded backend and the storefront's image query (/v1/query/image) run it.
FROM base AS ocr-runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends tesseract-ocr=5.3.0-2 tesseract-ocr-eng=1:4.1.0-2 \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /opt/venv /opt/venv
USER 10001:10001

FROM ocr-runtime AS summarizer
ENV INTERAREC_WEB_BIND=0.0.0.0 INTERAREC_SUMMARIZER_PORT=8601
EXPOSE 8601
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
  CMD ["python", "-m", "services.ops.healthcheck", "INTERAREC_SUMMARIZER_PORT", "8601"]
CMD ["python", "-m", "services.summarizer"]

FROM ocr-runtime AS storefront-api
ENV INTERAREC_STOREFRONT_HOST=0.0.0.0 INTERAREC_STOREFRONT_PORT=8600
EXPOSE 8600
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
  CMD ["python", "-m", "services.ops.healthcheck", "INTERAREC_STOREFRONT_PORT", "8600"]
CMD ["python", "-m", "services.storefront_api"]
