# syntax=docker/dockerfile:1
# perfkit's image, GPU: the CPU image's two stages with the `gpu-cuda13` extra (CuPy, Numba
# CUDA) instead of `spark`, the CUDA 13 runtime libraries (cudart, NVRTC, cuBLAS ...) of
# NVIDIA's runtime base image, and NVVM for Numba from NVIDIA's pip packages (numba-cuda's
# cu13 extra, CUDA 13.0.2 as the base); the driver comes from the node (NVIDIA's container
# toolkit mounts it, 580 or newer). Run as the same fixed non-root user.
#   docker build -f deploy/docker/gpu.Dockerfile -t perfkit-gpu:0.1.0 .
# Pinned as the CPU image is: bases by tag, Python packages by constraints.txt (its GPU part).
# No secret is baked in.
ARG PYTHON_IMAGE=python:3.11.11-slim-bookworm
ARG CUDA_IMAGE=nvidia/cuda:13.0.2-runtime-ubuntu24.04

FROM ${CUDA_IMAGE} AS cuda

FROM ${PYTHON_IMAGE} AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
COPY native ./native
COPY kernels ./kernels
COPY deploy/docker/constraints.txt ./constraints.txt
RUN pip wheel --no-cache-dir --wheel-dir /wheels -c constraints.txt ".[gpu-cuda13]" "numba-cuda[cu13]"

FROM ${PYTHON_IMAGE}
RUN groupadd --gid 10001 perfkit \
    && useradd --uid 10001 --gid 10001 --home-dir /tmp --no-create-home --shell /usr/sbin/nologin perfkit
COPY --from=cuda /usr/local/cuda-13.0/targets/x86_64-linux/lib/ /usr/local/cuda/lib64/
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-index --find-links /wheels "perfkit[gpu-cuda13]" "numba-cuda[cu13]" \
    && rm -rf /wheels
ENV CUDA_PATH=/usr/local/cuda \
    LD_LIBRARY_PATH=/usr/local/cuda/lib64 \
    NVIDIA_VISIBLE_DEVICES=all \
    NVIDIA_DRIVER_CAPABILITIES=compute,utility \
    HOME=/tmp \
    PYTHONDONTWRITEBYTECODE=1
USER 10001:10001
WORKDIR /data
CMD ["perfkit", "list"]
