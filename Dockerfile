# syntax=docker/dockerfile:1
# perfkit's image, CPU: the package with its Spark extra and Java 17, run as a fixed
# non-root user; the same image is the Spark master's and workers' (the same pyspark).
#   docker build -t perfkit:0.1.0 .
# Every package is pinned: the base by tag, Debian packages by version, Python packages by
# deploy/docker/constraints.txt. No secret is baked in: the cluster's spark.authenticate
# secret is mounted at run time (deploy/k8s). GPU variant: deploy/docker/gpu.Dockerfile.
ARG PYTHON_IMAGE=python:3.11.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
COPY native ./native
COPY kernels ./kernels
COPY deploy/docker/constraints.txt ./constraints.txt
RUN pip wheel --no-cache-dir --wheel-dir /wheels -c constraints.txt ".[spark]"

FROM ${PYTHON_IMAGE}
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        openjdk-17-jre-headless=17.0.21.1+2-1~deb12u1 procps=2:4.0.2-3 \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --gid 10001 perfkit \
    && useradd --uid 10001 --gid 10001 --home-dir /tmp --no-create-home --shell /usr/sbin/nologin perfkit
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-index --find-links /wheels "perfkit[spark]" && rm -rf /wheels
ENV JAVA_HOME=/usr/lib/jvm/java-17-openjdk-amd64 \
    SPARK_HOME=/usr/local/lib/python3.11/site-packages/pyspark \
    PATH=/usr/local/lib/python3.11/site-packages/pyspark/bin:/usr/local/bin:/usr/bin:/bin \
    HOME=/tmp \
    PYTHONDONTWRITEBYTECODE=1
USER 10001:10001
WORKDIR /data
CMD ["perfkit", "list"]
