# tlog: the notation-py transparency log service.
#
#   docker build -t tlog .
#   docker run --rm -v tlog-data:/data tlog init --dir /data --origin log.example.com/notary
#   docker run -d -p 8080:8080 -v tlog-data:/data tlog \
#       serve --dir /data --listen 0.0.0.0:8080 --token-file /data/tokens
#
# Tokens may also come from the environment (docker run -e TLOG_TOKENS=...). Without any token the
# log is read-only on a non-loopback address. SIGTERM (docker stop) shuts the server down
# gracefully: in-flight submissions are committed and answered first. The HEALTHCHECK below polls
# /healthz; add `--log-format json` to the serve arguments for one JSON object per log line.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
COPY pyproject.toml README.md LICENSE ./
COPY notation_py ./notation_py
COPY tlog ./tlog
RUN pip install ".[server]" \
    && rm -rf /src \
    && useradd --system --uid 10001 --home-dir /data --no-create-home tlog \
    && mkdir -p /data && chown tlog /data

USER tlog
WORKDIR /data
VOLUME /data
EXPOSE 8080

# Liveness for `docker ps` / orchestrators: GET /healthz with the Python the image already has (no curl).
# It is served at the root even under --prefix; another --listen port: set TLOG_HEALTH_URL
# (docker run -e TLOG_HEALTH_URL=http://127.0.0.1:9000/healthz). Readiness (/readyz) is for load balancers.
ENV TLOG_HEALTH_URL=http://127.0.0.1:8080/healthz
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, sys, urllib.request; sys.exit(urllib.request.urlopen(os.environ['TLOG_HEALTH_URL'], timeout=4).status != 200)"]

ENTRYPOINT ["tlog"]
CMD ["serve", "--dir", "/data", "--listen", "0.0.0.0:8080"]
