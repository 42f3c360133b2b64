# syntax=docker/dockerfile:1
#
# Panicless Library: a release build, then a small Debian runtime that runs as a non-root user
# and keeps its state (the SQLite file, when SQLite is used) in the /data volume.
#
#   docker build -t panicless .
#   docker run -d --name panicless -v panicless-data:/data -p 127.0.0.1:8080:8080 \
#     --env-file panicless.env --stop-timeout 35 panicless
#
# Templates (Askama), migrations and the stylesheet are compiled into the binary; nothing else
# has to be copied next to it. Needs BuildKit (the default builder since Docker 23).

ARG RUST_VERSION=1

# ---- build -------------------------------------------------------------------------------------
FROM rust:${RUST_VERSION}-bookworm AS build

# The bundled libpq (pq-sys) compiles against OpenSSL; the bundled SQLite only needs a C compiler.
# The rust image has most of these already; listing them keeps the build explicit.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libssl-dev pkg-config perl make gcc \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /src
COPY . .

# The registry and target directories are BuildKit cache mounts, kept between builds, so a
# change to src/ recompiles the crate and not its dependencies. The binary is copied out of the
# cache mount, which is not part of the image.
RUN --mount=type=cache,id=panicless-cargo-registry,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,id=panicless-cargo-git,target=/usr/local/cargo/git,sharing=locked \
    --mount=type=cache,id=panicless-target,target=/src/target,sharing=locked \
    cargo build --release --locked --bin panicless \
    && install -D -m 0755 target/release/panicless /out/panicless

# ---- runtime -----------------------------------------------------------------------------------
FROM debian:bookworm-slim AS runtime

# ca-certificates: outbound HTTPS (reqwest with rustls). libssl3: libpq links OpenSSL
# dynamically. curl: the health check. sqlite3: online backups of /data/panicless.db.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates libssl3 curl sqlite3 \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 panicless \
    && useradd --system --uid 10001 --gid panicless --home-dir /data --no-create-home \
        --shell /usr/sbin/nologin panicless \
    && install -d -o panicless -g panicless -m 0750 /data

COPY --from=build /out/panicless /usr/local/bin/panicless
# For reference: copy it, adjust, mount it and set PROVIDERS_FILE.
COPY providers.example.toml /usr/share/panicless/providers.example.toml

LABEL org.opencontainers.image.title="Panicless Library" \
      org.opencontainers.image.description="Self-hosted personal library with its own OAuth 2.1 server and MCP endpoint"

# Listening on every interface, the server runs in production mode: it refuses to start without
# real secrets and an https PUBLIC_URL (pass them with --env-file), so the development secrets
# published in this repository never serve a reachable port.
ENV APP_ENV=production \
    SERVER_HOST=0.0.0.0 \
    SERVER_PORT=8080 \
    DATABASE_URL=sqlite:///data/panicless.db \
    RUST_LOG=info

# Numeric, so that orchestrators can check that the user is not root.
USER 10001:10001
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8080

# SIGTERM drains in-flight requests (up to 30 s); SIGINT and SIGQUIT stop at once. Give the
# container more than 30 s to stop: docker run --stop-timeout 35, compose stop_grace_period: 35s.
STOPSIGNAL SIGTERM

# 200 when the database answers and its schema is current, 503 otherwise.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD curl -fsS -o /dev/null "http://127.0.0.1:${SERVER_PORT}/health" || exit 1

ENTRYPOINT ["panicless"]
CMD ["serve"]
