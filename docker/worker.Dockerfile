# The bdlopt GPU worker image: `bdlopt worker` (Celery) on a CUDA base with a CUDA build of PyTorch.
# Build from the repository root:  docker build -f docker/worker.Dockerfile -t bdlopt-worker .
# The CUDA wheels bring their own CUDA runtime libraries; the host needs the NVIDIA driver and the
# NVIDIA Container Toolkit. Pick another CUDA flavour with --build-arg CUDA_IMAGE=... TORCH_INDEX=...
ARG CUDA_IMAGE=nvidia/cuda:12.8.1-base-ubuntu24.04
FROM ${CUDA_IMAGE}

ARG TORCH_INDEX=https://download.pytorch.org/whl/cu128
ENV DEBIAN_FRONTEND=noninteractive \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH=/opt/venv/bin:$PATH

RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 python3-venv \
    && rm -rf /var/lib/apt/lists/* \
    && python3 -m venv /opt/venv

WORKDIR /app

# The CUDA build of the exact pin of pyproject.toml (2.13.0+cu128 satisfies torch==2.13.0).
RUN pip install --index-url ${TORCH_INDEX} torch==2.13.0

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

# One pool process per visible GPU; the parent never initialises CUDA before it forks them.
CMD ["bdlopt", "worker", "--queues", "gpu,cpu"]
