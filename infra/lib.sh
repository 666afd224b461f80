# shellcheck shell=bash
# Local infrastructure without Docker: PostgreSQL and ClickHouse from Debian's packages,
# Apache Kafka (KRaft, single broker) from the broker's jars on Maven Central.
# Everything runs on loopback with its data under $BAZAAR_DATA (git-ignored).
# Sourced by ./dev; every function is idempotent.

: "${BAZAAR_ROOT:?BAZAAR_ROOT must be set by ./dev}"
BAZAAR_DATA=${BAZAAR_DATA:-$BAZAAR_ROOT/.bazaar}
BAZAAR_PG_PORT=${BAZAAR_PG_PORT:-54320}
BAZAAR_KAFKA_PORT=${BAZAAR_KAFKA_PORT:-9092}
BAZAAR_KAFKA_CONTROLLER_PORT=${BAZAAR_KAFKA_CONTROLLER_PORT:-9093}
BAZAAR_CLICKHOUSE_HTTP_PORT=${BAZAAR_CLICKHOUSE_HTTP_PORT:-8123}
BAZAAR_CLICKHOUSE_TCP_PORT=${BAZAAR_CLICKHOUSE_TCP_PORT:-9000}

log() { printf '\033[1m[infra]\033[0m %s\n' "$*" >&2; }
die() { printf '\033[31m[infra] error:\033[0m %s\n' "$*" >&2; exit 1; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"
  elif command -v sudo >/dev/null; then sudo "$@"
  else die "need root to run: $* (no sudo found)"; fi
}

APT_UPDATED=
apt_install() {
  # Installs only the Debian packages that are missing.
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ -z "$APT_UPDATED" ]; then
    log "apt-get update"
    as_root apt-get update -q >/dev/null || die "apt-get update failed"
    APT_UPDATED=1
  fi
  log "installing ${missing[*]}"
  # Debian's postinst scripts would start system-wide servers on the default ports;
  # policy-rc.d stops that, our own instances are started below.
  local policy=/usr/sbin/policy-rc.d created_policy=
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | as_root tee "$policy" >/dev/null && as_root chmod +x "$policy" && created_policy=1
  fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null \
    || { [ -n "$created_policy" ] && as_root rm -f "$policy"; die "apt-get install ${missing[*]} failed"; }
  [ -n "$created_policy" ] && as_root rm -f "$policy"
  return 0
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_for() {
  # wait_for NAME SECONDS COMMAND...: polls COMMAND until it succeeds.
  local name=$1 seconds=$2; shift 2
  local deadline=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -ge $deadline ] && die "$name did not answer within ${seconds}s (see $BAZAAR_DATA/logs/)"
    sleep 0.5
  done
}

pid_alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

stop_pidfile() {
  local name=$1 pidfile=$2
  pid_alive "$pidfile" || { rm -f "$pidfile"; return 0; }
  local pid; pid=$(cat "$pidfile")
  log "stopping $name (pid $pid)"
  kill "$pid" 2>/dev/null
  for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$pidfile"
}

# --- PostgreSQL --------------------------------------------------------------------------

pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }

# PostgreSQL refuses to run as root, so as root it runs as the `postgres` user, which must
# be able to reach its data folder. A checkout under a private home folder cannot be
# reached; the data then lives in /var/tmp and the data folder links to it.
pg_data_dir() {
  local dir=$BAZAAR_DATA/pg
  if [ "$(id -u)" -eq 0 ] && [ ! -e "$dir" ]; then
    mkdir -p "$BAZAAR_DATA"
    if ! runuser -u postgres -- test -x "$BAZAAR_DATA"; then
      local outside; outside=/var/tmp/bazaar-pg-$(printf '%s' "$BAZAAR_DATA" | md5sum | cut -c1-12)
      mkdir -p "$outside" && chown postgres: "$outside" && ln -sfn "$outside" "$dir"
    fi
  fi
  echo "$dir"
}

pg_run() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

pg_up() {
  [ -n "$(pg_bin)" ] || apt_install postgresql
  local bin data; bin=$(pg_bin); data=$(pg_data_dir)
  mkdir -p "$BAZAAR_DATA/logs" "$data"
  [ "$(id -u)" -eq 0 ] && chown postgres: "$data" "$BAZAAR_DATA/logs" && chmod 700 "$data"
  if [ ! -f "$data/PG_VERSION" ]; then
    log "postgres: initdb in $data"
    # Trust on loopback only: a developer database, never exposed.
    pg_run "$bin/initdb" -D "$data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null \
      || die "initdb failed"
    cat >>"$data/postgresql.conf" <<EOF
# bazaar: tuned for a developer machine and parallel tests
listen_addresses = '127.0.0.1'
port = $BAZAAR_PG_PORT
unix_socket_directories = ''
max_connections = 500
shared_buffers = 256MB
fsync = off
synchronous_commit = off
full_page_writes = off
EOF
  fi
  if ! pg_run "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1; then
    log "postgres: starting on 127.0.0.1:$BAZAAR_PG_PORT"
    pg_run "$bin/pg_ctl" -D "$data" -l "$BAZAAR_DATA/logs/postgres.log" -w -t 60 start >/dev/null \
      || die "postgres did not start (see $BAZAAR_DATA/logs/postgres.log)"
  fi
  wait_for postgres 60 "$bin/pg_isready" -h 127.0.0.1 -p "$BAZAAR_PG_PORT" -U postgres
  "$bin/psql" -h 127.0.0.1 -p "$BAZAAR_PG_PORT" -U postgres -d postgres -qtA -v ON_ERROR_STOP=1 >/dev/null <<'SQL' \
    || die "could not create the bazaar roles"
DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'bazaar') THEN
    CREATE ROLE bazaar LOGIN PASSWORD 'bazaar' CREATEDB;
  END IF;
  -- Request handlers connect as bazaar_app: it owns no table, so row-level security
  -- applies to it (the platform migration grants it what services need).
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'bazaar_app') THEN
    CREATE ROLE bazaar_app LOGIN PASSWORD 'bazaar_app' NOSUPERUSER NOBYPASSRLS;
  END IF;
END $$;
-- Tests drop their databases WITH (FORCE), which must also end an autovacuum worker
-- busy on one; without this the drop fails now and then.
GRANT pg_signal_backend TO bazaar;
SELECT 'CREATE DATABASE bazaar OWNER bazaar'
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'bazaar') \gexec
SQL
}

pg_down() {
  local bin data; bin=$(pg_bin); data=$BAZAAR_DATA/pg
  [ -n "$bin" ] && [ -f "$data/PG_VERSION" ] || return 0
  if pg_run "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1; then
    log "stopping postgres"
    pg_run "$bin/pg_ctl" -D "$data" -m fast -w stop >/dev/null
  fi
}

pg_status() {
  local bin; bin=$(pg_bin)
  if [ -n "$bin" ] && "$bin/pg_isready" -h 127.0.0.1 -p "$BAZAAR_PG_PORT" -U postgres >/dev/null 2>&1; then
    echo "postgres    up    postgres://bazaar:bazaar@127.0.0.1:$BAZAAR_PG_PORT"
  else
    echo "postgres    down"
  fi
}

# --- Kafka -------------------------------------------------------------------------------

KAFKA_DIR=$BAZAAR_DATA/kafka

kafka_java() {
  command -v java >/dev/null || apt_install openjdk-17-jre-headless
  echo java
}

kafka_jars() {
  # The broker and its dependencies, resolved by Maven from infra/kafka/pom.xml.
  local libs=$KAFKA_DIR/libs stamp=$KAFKA_DIR/libs/.pom.sha
  local want; want=$(sha256sum "$BAZAAR_ROOT/infra/kafka/pom.xml" | cut -d' ' -f1)
  [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && return 0
  command -v mvn >/dev/null || apt_install maven
  log "kafka: fetching the broker's jars with Maven"
  rm -rf "$libs"; mkdir -p "$libs"
  mvn -q -B -f "$BAZAAR_ROOT/infra/kafka/pom.xml" dependency:copy-dependencies \
    -DoutputDirectory="$libs" -DincludeScope=runtime >"$BAZAAR_DATA/logs/maven.log" 2>&1 \
    || die "maven could not fetch the Kafka jars (see $BAZAAR_DATA/logs/maven.log)"
  echo "$want" >"$stamp"
}

kafka_up() {
  mkdir -p "$KAFKA_DIR" "$BAZAAR_DATA/logs"
  local java; java=$(kafka_java)
  kafka_jars
  local props=$KAFKA_DIR/server.properties
  sed -e "s#@DATA@#$KAFKA_DIR#g" -e "s#@PORT@#$BAZAAR_KAFKA_PORT#g" \
      -e "s#@CONTROLLER_PORT@#$BAZAAR_KAFKA_CONTROLLER_PORT#g" \
      "$BAZAAR_ROOT/infra/kafka/server.properties" >"$props"
  cp "$BAZAAR_ROOT/infra/kafka/log4j.properties" "$KAFKA_DIR/log4j.properties"
  local cp="$KAFKA_DIR/libs/*"
  if [ ! -f "$KAFKA_DIR/data/meta.properties" ]; then
    log "kafka: formatting KRaft storage"
    local cluster_id; cluster_id=$("$java" -cp "$cp" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n 1)
    "$java" -cp "$cp" -Dlog4j.configuration="file:$KAFKA_DIR/log4j.properties" \
      kafka.tools.StorageTool format -t "$cluster_id" -c "$props" >"$BAZAAR_DATA/logs/kafka-format.log" 2>&1 \
      || die "kafka storage format failed (see $BAZAAR_DATA/logs/kafka-format.log)"
  fi
  if ! pid_alive "$KAFKA_DIR/kafka.pid"; then
    port_open "$BAZAAR_KAFKA_PORT" && die "port $BAZAAR_KAFKA_PORT is taken by another process"
    log "kafka: starting on 127.0.0.1:$BAZAAR_KAFKA_PORT"
    # setsid: a Ctrl-C meant for ./dev up must not reach the broker; stop_all stops it.
    setsid "$java" -Xms256m -Xmx1g -XX:+UseG1GC -Djava.awt.headless=true \
      -Dlog4j.configuration="file:$KAFKA_DIR/log4j.properties" -Dkafka.logs.dir="$BAZAAR_DATA/logs" \
      -cp "$cp" kafka.Kafka "$props" </dev/null >"$BAZAAR_DATA/logs/kafka.out" 2>&1 &
    echo $! >"$KAFKA_DIR/kafka.pid"
  fi
  wait_for kafka 90 port_open "$BAZAAR_KAFKA_PORT"
}

kafka_down() { stop_pidfile kafka "$KAFKA_DIR/kafka.pid"; }

kafka_status() {
  if pid_alive "$KAFKA_DIR/kafka.pid" && port_open "$BAZAAR_KAFKA_PORT"; then
    echo "kafka       up    127.0.0.1:$BAZAAR_KAFKA_PORT (KRaft, single broker)"
  else
    echo "kafka       down"
  fi
}

# --- ClickHouse --------------------------------------------------------------------------

CH_DIR=$BAZAAR_DATA/clickhouse

ch_ping() { [ "$(curl -fsS "http://127.0.0.1:$BAZAAR_CLICKHOUSE_HTTP_PORT/ping" 2>/dev/null)" = "Ok." ]; }

ch_up() {
  command -v clickhouse-server >/dev/null || apt_install clickhouse-server clickhouse-client
  command -v curl >/dev/null || apt_install curl
  mkdir -p "$CH_DIR/data" "$CH_DIR/tmp" "$CH_DIR/user_files" "$BAZAAR_DATA/logs"
  for f in config.xml users.xml; do
    sed -e "s#@DATA@#$CH_DIR#g" -e "s#@LOGS@#$BAZAAR_DATA/logs#g" \
        -e "s#@HTTP_PORT@#$BAZAAR_CLICKHOUSE_HTTP_PORT#g" -e "s#@TCP_PORT@#$BAZAAR_CLICKHOUSE_TCP_PORT#g" \
        "$BAZAAR_ROOT/infra/clickhouse/$f" >"$CH_DIR/$f"
  done
  if ! pid_alive "$CH_DIR/clickhouse.pid"; then
    port_open "$BAZAAR_CLICKHOUSE_HTTP_PORT" && die "port $BAZAAR_CLICKHOUSE_HTTP_PORT is taken by another process"
    log "clickhouse: starting on 127.0.0.1:$BAZAAR_CLICKHOUSE_HTTP_PORT"
    setsid clickhouse-server --config-file="$CH_DIR/config.xml" \
      </dev/null >"$BAZAAR_DATA/logs/clickhouse.out" 2>&1 &
    echo $! >"$CH_DIR/clickhouse.pid"
  fi
  wait_for clickhouse 60 ch_ping
}

ch_down() { stop_pidfile clickhouse "$CH_DIR/clickhouse.pid"; }

ch_status() {
  if ch_ping; then
    echo "clickhouse  up    http://127.0.0.1:$BAZAAR_CLICKHOUSE_HTTP_PORT"
  else
    echo "clickhouse  down"
  fi
}

# --- jaeger: the trace backend (OTLP in, traces queried over HTTP) -----------------------
# Built once from the Go module proxy as a Go tool (infra/jaeger/go.mod pins it), with the
# Go on the machine; its traces are kept in memory.

JAEGER_VERSION=v1.75.0
JAEGER_DIR=$BAZAAR_DATA/jaeger
BAZAAR_JAEGER_OTLP_PORT=${BAZAAR_JAEGER_OTLP_PORT:-4317}
BAZAAR_JAEGER_OTLP_HTTP_PORT=${BAZAAR_JAEGER_OTLP_HTTP_PORT:-4318}
BAZAAR_JAEGER_QUERY_PORT=${BAZAAR_JAEGER_QUERY_PORT:-16686}
BAZAAR_JAEGER_QUERY_GRPC_PORT=${BAZAAR_JAEGER_QUERY_GRPC_PORT:-16685}

jaeger_install() {
  [ -x "$JAEGER_DIR/bin/jaeger" ] && [ "$(cat "$JAEGER_DIR/version" 2>/dev/null)" = "$JAEGER_VERSION" ] && return 0
  command -v go >/dev/null || die "jaeger: no Go toolchain (go 1.24 or newer) to build it with"
  log "jaeger: building $JAEGER_VERSION from the Go module proxy (once; a few minutes)"
  mkdir -p "$JAEGER_DIR/bin"
  (cd "$BAZAAR_ROOT/infra/jaeger" && go build -o "$JAEGER_DIR/bin/jaeger" github.com/jaegertracing/jaeger/cmd/jaeger) \
    || die "jaeger: go build failed"
  echo "$JAEGER_VERSION" >"$JAEGER_DIR/version"
}

jaeger_ready() { curl -fsS "http://127.0.0.1:$BAZAAR_JAEGER_QUERY_PORT/api/services" >/dev/null 2>&1; }

jaeger_up() {
  jaeger_install
  mkdir -p "$BAZAAR_DATA/logs"
  sed -e "s#@OTLP_GRPC@#127.0.0.1:$BAZAAR_JAEGER_OTLP_PORT#" -e "s#@OTLP_HTTP@#127.0.0.1:$BAZAAR_JAEGER_OTLP_HTTP_PORT#" \
      -e "s#@QUERY@#127.0.0.1:$BAZAAR_JAEGER_QUERY_PORT#" -e "s#@QUERY_GRPC@#127.0.0.1:$BAZAAR_JAEGER_QUERY_GRPC_PORT#" \
      "$BAZAAR_ROOT/infra/jaeger/config.yaml" >"$JAEGER_DIR/config.yaml"
  if ! pid_alive "$JAEGER_DIR/jaeger.pid"; then
    port_open "$BAZAAR_JAEGER_OTLP_PORT" && die "port $BAZAAR_JAEGER_OTLP_PORT is taken by another process"
    log "jaeger: starting, OTLP on 127.0.0.1:$BAZAAR_JAEGER_OTLP_PORT, UI on http://127.0.0.1:$BAZAAR_JAEGER_QUERY_PORT"
    setsid "$JAEGER_DIR/bin/jaeger" --config "$JAEGER_DIR/config.yaml" \
      </dev/null >"$BAZAAR_DATA/logs/jaeger.out" 2>&1 &
    echo $! >"$JAEGER_DIR/jaeger.pid"
  fi
  wait_for jaeger 60 jaeger_ready
}

jaeger_down() { stop_pidfile jaeger "$JAEGER_DIR/jaeger.pid"; }

jaeger_status() {
  if jaeger_ready; then
    echo "jaeger      up    http://127.0.0.1:$BAZAAR_JAEGER_QUERY_PORT (OTLP 127.0.0.1:$BAZAAR_JAEGER_OTLP_PORT)"
  else
    echo "jaeger      down"
  fi
}

# --- all of it ---------------------------------------------------------------------------

infra_up() {
  mkdir -p "$BAZAAR_DATA/logs"
  pg_up
  kafka_up
  ch_up
  jaeger_up
  infra_status
}

infra_down() {
  jaeger_down
  ch_down
  kafka_down
  pg_down
}

infra_status() {
  pg_status
  kafka_status
  ch_status
  jaeger_status
}

infra_reset() {
  infra_down
  local pgdir=$BAZAAR_DATA/pg
  [ -L "$pgdir" ] && rm -rf "$(readlink -f "$pgdir")"
  log "removing $BAZAAR_DATA (the Kafka jars, chdb and the Jaeger build are kept)"
  find "$BAZAAR_DATA" -mindepth 1 -maxdepth 1 ! -name kafka ! -name chdb ! -name jaeger -exec rm -rf {} +
  find "$KAFKA_DIR" -mindepth 1 -maxdepth 1 ! -name libs -exec rm -rf {} + 2>/dev/null || true
}

# --- chdb: the current ClickHouse engine in process, for the analytics tests --------------

CHDB_VERSION=26.9.0
CHDB_DIR=$BAZAAR_DATA/chdb

chdb_install() {
  [ -x "$CHDB_DIR/bin/python" ] && "$CHDB_DIR/bin/python" -c "import chdb" 2>/dev/null && return 0
  python3 -m venv --help >/dev/null 2>&1 && python3 -c "import ensurepip" 2>/dev/null || apt_install python3-venv
  log "chdb: installing chdb-core $CHDB_VERSION into $CHDB_DIR"
  rm -rf "$CHDB_DIR"
  python3 -m venv "$CHDB_DIR" || die "cannot create a Python venv at $CHDB_DIR"
  "$CHDB_DIR/bin/pip" install -q "chdb-core==$CHDB_VERSION" || die "pip install chdb-core failed"
}

# The variables every Bazaar process and test reads (see the README's table).
infra_env() {
  export BAZAAR_DATABASE_URL=${BAZAAR_DATABASE_URL:-postgres://bazaar:bazaar@127.0.0.1:$BAZAAR_PG_PORT}
  export BAZAAR_KAFKA_BROKERS=${BAZAAR_KAFKA_BROKERS:-127.0.0.1:$BAZAAR_KAFKA_PORT}
  export BAZAAR_CLICKHOUSE_URL=${BAZAAR_CLICKHOUSE_URL:-http://127.0.0.1:$BAZAAR_CLICKHOUSE_HTTP_PORT}
  export BAZAAR_CLICKHOUSE_DATABASE=${BAZAAR_CLICKHOUSE_DATABASE:-bazaar}
  # The analytics tests run the migrations and dashboards on the current engine with it.
  export BAZAAR_CHDB_PYTHON=${BAZAAR_CHDB_PYTHON:-$CHDB_DIR/bin/python}
  # For tests that run a private broker of their own (the broker-restart test).
  export BAZAAR_KAFKA_LIBS=$KAFKA_DIR/libs
  # The trace test sends its spans to Jaeger over OTLP and reads them back from its API.
  export BAZAAR_JAEGER_OTLP=${BAZAAR_JAEGER_OTLP:-http://127.0.0.1:$BAZAAR_JAEGER_OTLP_PORT}
  export BAZAAR_JAEGER_QUERY=${BAZAAR_JAEGER_QUERY:-http://127.0.0.1:$BAZAAR_JAEGER_QUERY_PORT}
}
