# tlog: the notation-py transparency log service.
#
#   docker build -t tlog .
#   docker run --rm -v tlog-data:/data tlog init --dir /data --origin log.example.com/notary
#   docker run -d -p 8080:8080 -v tlog-data:/data tlog \
#       serve --dir /data --listen 0.0.0.0:8080 --token-file /data/tokens
#
# Tokens may also come from the environment (docker run -e TLOG_TOKENS=...). Without any token the
# log is read-only on a non-loopback address. SIGTERM (docker stop) shuts the server down
# gracefully: in-flight submissions are committed and answered first.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
COPY pyproject.toml README.md ./
COPY notation_py ./notation_py
COPY tlog ./tlog
RUN pip install . \
    && rm -rf /src \
    && useradd --system --uid 10001 --home-dir /data --no-create-home tlog \
    && mkdir -p /data && chown tlog /data

USER tlog
WORKDIR /data
VOLUME /data
EXPOSE 8080

ENTRYPOINT ["tlog"]
CMD ["serve", "--dir", "/data", "--listen", "0.0.0.0:8080"]
