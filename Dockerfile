# syntax=docker/dockerfile:1
FROM python:3.12-slim AS build
WORKDIR /src
RUN python -m venv /opt/tracer
COPY pyproject.toml README.md alembic.ini ./
COPY app ./app
COPY migrations ./migrations
RUN /opt/tracer/bin/pip install --no-cache-dir .

FROM python:3.12-slim
RUN useradd --create-home --uid 10001 tracer
COPY --from=build /opt/tracer /opt/tracer
ENV PATH=/opt/tracer/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    TRACER_DATABASE_URL=sqlite+aiosqlite:////data/tracer.db \
    TRACER_ADMIN_KEY_FILE=/data/.tracer-admin-key \
    TRACER_SECRET_KEY_FILE=/data/.tracer-secret-key
RUN mkdir /data && chown tracer /data
VOLUME /data
USER tracer
WORKDIR /data
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s --start-period=20s \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"
CMD ["tracer", "serve", "--host", "0.0.0.0", "--port", "8000"]
