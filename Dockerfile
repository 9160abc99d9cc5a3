# The one Baton image: API, workers and the enterprise-systems sandbox (`baton api`,
# `baton worker --queue NAME`, `baton systems`). docker-compose.yml runs it several times.
ARG PYTHON_IMAGE=python:3.11.13-slim

# --- build: install the project and its dependencies into a self-contained virtualenv ---------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/baton
WORKDIR /src
# Only what `pip install .` needs: the metadata and the packages (see .dockerignore).
COPY pyproject.toml README.md ./
COPY baton ./baton
COPY core ./core
COPY workflows ./workflows
COPY activities ./activities
COPY workers ./workers
COPY api ./api
COPY systems ./systems
RUN /opt/baton/bin/pip install .

# --- runtime: the virtualenv, a non-root user, nothing else ----------------------------------
FROM ${PYTHON_IMAGE}
RUN groupadd --system --gid 10001 baton \
    && useradd --system --uid 10001 --gid baton --home-dir /app --shell /usr/sbin/nologin baton \
    && mkdir -p /app/.data \
    && chown -R baton:baton /app
COPY --from=build /opt/baton /opt/baton
ENV PATH=/opt/baton/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    BATON_DATA_DIR=/app/.data
WORKDIR /app
USER 10001:10001
EXPOSE 8000 8100
CMD ["baton", "api"]
