# syntax=docker/dockerfile:1

# ---- builder ---------------------------------------------------------------
FROM rust:1-bookworm AS builder

# libpq is compiled into the binary (pq-sys's "bundled"), against OpenSSL.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libssl-dev pkg-config \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /build

# Build the dependency graph against dummy sources first so that this layer
# is cached until Cargo.toml / Cargo.lock change.
# .cargo/config.toml holds the linker flags, which every crate's build sees.
COPY Cargo.toml Cargo.lock ./
COPY .cargo/ .cargo/
RUN mkdir -p src tests/api \
    && echo 'fn main() {}' > src/main.rs \
    && touch src/lib.rs \
    && echo 'fn main() {}' > tests/api/main.rs \
    && cargo build --release --locked --bin memberd \
    && rm -rf src

# The real sources. Migrations and data files are embedded at compile time.
COPY src/ src/
COPY migrations/ migrations/
COPY data/ data/
COPY openapi/ openapi/
# COPY keeps the context's mtimes, which may be older than the dummy build:
# touch the crate roots so cargo rebuilds the memberd crate.
RUN touch src/main.rs src/lib.rs \
    && cargo build --release --locked --bin memberd \
    && cp target/release/memberd /usr/local/bin/memberd

# ---- runtime ---------------------------------------------------------------
FROM debian:bookworm-slim

# libssl3: the libpq compiled into the binary speaks TLS through it.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates libssl3 \
    && rm -rf /var/lib/apt/lists/*

RUN groupadd --system --gid 10001 memberd \
    && useradd --system --uid 10001 --gid memberd --no-create-home \
       --home-dir /app --shell /usr/sbin/nologin memberd

WORKDIR /app
RUN mkdir -p /app/mail && chown memberd:memberd /app/mail

COPY --from=builder /usr/local/bin/memberd /usr/local/bin/memberd

USER memberd:memberd
ENV MEMBERD_BIND=0.0.0.0:8080
# No per-thread caches of freed memory in glibc's allocator: about 4 MiB less
# at peak for no measured loss of speed (bench/RESULTS.md, thirteenth
# session). glibc reads this only at start, so it cannot be set from inside.
ENV GLIBC_TUNABLES=glibc.malloc.tcache_count=0
EXPOSE 8080

# No HEALTHCHECK: the image ships no HTTP client (curl/wget) to probe with.
ENTRYPOINT ["/usr/local/bin/memberd"]
CMD ["serve"]
