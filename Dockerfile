# The torghut_assets code location: a Dagster gRPC code server on port 4000.
#   docker build -t torghut-assets:0.1.0 .
# No secret is baked in: every credential arrives at run time as an environment variable (Kubernetes
# secretKeyRef, see deploy/helm/values.yaml and docs/deploy.md). The Helm chart replaces CMD with
# `dagster api grpc -h 0.0.0.0 -p <port> -m torghut_assets.definitions`; CMD is for running the image
# on its own. The same image runs every launched run (K8sRunLauncher), hence dagster-k8s in the package.

FROM python:3.11.13-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md requirements.lock ./
COPY torghut_assets ./torghut_assets
RUN python -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-cache-dir -c requirements.lock .

FROM python:3.11.13-slim-bookworm
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    DAGSTER_HOME=/opt/dagster/dagster_home \
    TORGHUT_ENV=production
RUN groupadd --system --gid 10001 torghut \
    && useradd --system --uid 10001 --gid torghut --home-dir /opt/dagster --shell /usr/sbin/nologin torghut \
    && mkdir -p /opt/dagster/dagster_home /var/lib/torghut/artifacts \
    && chown -R torghut:torghut /opt/dagster /var/lib/torghut
COPY --from=build /opt/venv /opt/venv
COPY --chown=torghut:torghut deploy/dagster.production.yaml /opt/dagster/dagster_home/dagster.yaml
WORKDIR /opt/dagster
USER 10001:10001
EXPOSE 4000
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s \
    CMD ["dagster", "api", "grpc-health-check", "-p", "4000"]
CMD ["dagster", "code-server", "start", "-h", "0.0.0.0", "-p", "4000", "-m", "torghut_assets.definitions"]
