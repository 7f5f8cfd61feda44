# The bdlopt API image: `bdlopt serve` on CPU-only PyTorch (the API never trains; jobs run on workers).
# Build from the repository root:  docker build -f docker/api.Dockerfile -t bdlopt-api .
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# CPU torch first, from the PyTorch CPU index: the exact pin of pyproject.toml, so that installing the
# project below finds it satisfied and does not pull a multi-GB CUDA build from PyPI.
RUN pip install --index-url https://download.pytorch.org/whl/cpu torch==2.13.0

COPY pyproject.toml ./
# The SDK is its own distribution (bdlopt-client) that the server depends on: installed from here, in the
# same pip command, so it never comes from an index.
COPY clients/python ./clients/python
COPY service ./service
COPY bdl_core ./bdl_core
# pyproject names README.md as the long description; the image needs no documentation.
RUN touch README.md && pip install ./clients/python . && rm -rf /root/.cache

# The same uid in the API and worker images: both write to the shared /data volume.
RUN useradd --create-home --uid 10001 bdlopt && mkdir -p /data && chown bdlopt:bdlopt /data
USER bdlopt
ENV BDLOPT_DATA_DIR=/data
VOLUME ["/data"]
EXPOSE 8000

HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=5 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=4).status != 200)"]

CMD ["bdlopt", "serve", "--host", "0.0.0.0", "--port", "8000"]
