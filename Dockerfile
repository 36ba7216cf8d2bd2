# One image for every service of docker-compose.yml: the seeder, each port's server and the comparator.
# docs/separate-machines.md walks through the stack.

# Build: resolve nothing, install exactly what uv.lock pins into a virtual environment that the
# runtime stage copies whole. The same uv as .ci/run, so the lock file is read the same way.
FROM python:3.11.14-slim-bookworm AS build
ENV UV_PYTHON_DOWNLOADS=never \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m pip install --no-cache-dir "uv==0.13.8"
WORKDIR /app
# Dependencies first, in a layer of their own: editing the code does not reinstall them.
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --locked --no-dev --no-install-project
COPY shared ./shared
COPY impl_aiohttp ./impl_aiohttp
COPY impl_django ./impl_django
COPY impl_fastapi ./impl_fastapi
COPY impl_litestar ./impl_litestar
COPY impl_starlette ./impl_starlette
COPY compare ./compare
COPY streambench ./streambench
# Not editable: the project goes into the environment as a wheel, so the runtime needs no sources.
RUN uv sync --locked --no-dev --no-editable

# Runtime: the same Python at the same path (the environment's interpreter links to it), no uv, no
# compiler, and a user of its own.
FROM python:3.11.14-slim-bookworm AS runtime
RUN groupadd --system --gid 10001 streambench \
    && useradd --system --uid 10001 --gid streambench --create-home --home-dir /home/streambench streambench
COPY --from=build /app/.venv /app/.venv
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    STREAMBENCH_CACHE_DIR=/home/streambench/.cache/streambench
USER streambench
WORKDIR /home/streambench
ENTRYPOINT ["streambench"]
CMD ["ports"]
