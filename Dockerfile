# legato-pay as a container: the webhook listener by default; the same image runs the cron jobs
# and `db upgrade` (see compose.yaml). Configured from the environment: LEGATO_DATABASE_URL,
# STRIPE_*, PAYSTACK_*, PAYMENT_GATEWAY_MODE, LEGATO_* overrides of config/default.yaml.
ARG PYTHON_VERSION=3.11

# Stage 1: build the wheel from the sources (config/default.yaml travels inside it) and install
# it into a virtualenv, so the runtime stage needs neither the sources nor pip's caches.
FROM python:${PYTHON_VERSION}-slim AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
WORKDIR /src
COPY pyproject.toml setup.py MANIFEST.in README.md ./
COPY config/ config/
COPY legato_pay/ legato_pay/
COPY commands/ commands/
RUN pip wheel --no-deps --wheel-dir /dist . \
 && python -m venv /opt/legato-pay \
 && /opt/legato-pay/bin/pip install /dist/*.whl

# Stage 2: the runtime, with the virtualenv and a non-root user, and nothing else.
FROM python:${PYTHON_VERSION}-slim
ENV PATH=/opt/legato-pay/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    LEGATO_HOME=/var/lib/legato-pay
RUN groupadd --system --gid 10001 legato \
 && useradd --system --uid 10001 --gid legato --home-dir /var/lib/legato-pay --create-home \
    --shell /usr/sbin/nologin legato
COPY --from=build /opt/legato-pay /opt/legato-pay
USER legato
WORKDIR /var/lib/legato-pay
EXPOSE 8000
# Exec form below, so the listener is PID 1 and receives the stop signal itself: on SIGTERM
# uvicorn stops accepting, lets requests in flight finish (webhooks.graceful_shutdown_seconds,
# default 30; give `docker stop` a longer --time), and exits. Slim has no curl: Python checks.
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]
CMD ["legato-pay", "serve-webhooks", "--host", "0.0.0.0", "--port", "8000"]
