# The one image every Bazaar deployment runs; only the arguments differ
# (serve catalog, serve --all, migrate --all, topics apply, ...).
FROM rust:1-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends cmake pkg-config zlib1g-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin bazaar

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/bazaar /usr/local/bin/bazaar
COPY topics /app/topics
WORKDIR /app
USER 10001
ENV BAZAAR_HTTP_ADDR=0.0.0.0:8080
EXPOSE 8080
ENTRYPOINT ["bazaar"]
CMD ["serve", "--all"]
