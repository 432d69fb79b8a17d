#!/usr/bin/env bash
# Resolves the Apache Kafka broker jars (and an slf4j binding) from Maven Central
# into ${SHARDFLOW_CACHE:-$HOME/.cache/shardflow}/kafka-<version>/libs, once.
# local/services/kafka.ts runs them with `java -cp 'libs/*' kafka.Kafka`.
#
# Idempotent: a `.complete` marker is written last, so an interrupted run is
# redone and a complete one returns at once. Prints the libs directory.
set -euo pipefail

# Pinned here and in local/services/kafka.ts (KAFKA_VERSION); 3.9.x, not 4.x, because
# Kafka 4 dropped old protocol versions (KIP-896) that predate kafkajs 2.2.4. See scripts/kafka/pom.xml.
KAFKA_VERSION="${SHARDFLOW_KAFKA_VERSION:-3.9.2}"
# Pinned so a fresh machine resolves the same plugin; 3.8.1 runs on Maven 3.6.3+.
DEPENDENCY_PLUGIN="org.apache.maven.plugins:maven-dependency-plugin:3.8.1"

here="$(cd "$(dirname "$0")" && pwd)"
cache="${SHARDFLOW_CACHE:-$HOME/.cache/shardflow}"
home="$cache/kafka-$KAFKA_VERSION"
libs="$home/libs"
marker="$home/.complete"

if [[ -f "$marker" ]]; then
  echo "$libs"
  exit 0
fi

if ! command -v java >/dev/null 2>&1; then
  echo "setup-kafka: java not found on PATH. Install a Java 17+ runtime (Debian: apt-get install openjdk-17-jre-headless)." >&2
  exit 2
fi
if ! command -v mvn >/dev/null 2>&1; then
  echo "setup-kafka: mvn not found on PATH. Install Apache Maven 3.6+ (Debian: apt-get install maven); it fetches the Kafka jars from Maven Central." >&2
  exit 2
fi

mkdir -p "$home"
# Two concurrent setups (a test run and a dev session) must not interleave their copies.
exec 9>"$home/.lock"
if command -v flock >/dev/null 2>&1; then
  flock -w 600 9 || { echo "setup-kafka: timed out after 600 s waiting for another setup ($home/.lock)" >&2; exit 3; }
fi
if [[ -f "$marker" ]]; then
  echo "$libs"
  exit 0
fi

staging="$home/libs.partial"
rm -rf "$staging" "$libs"
echo "setup-kafka: resolving Apache Kafka $KAFKA_VERSION from Maven Central into $libs" >&2
mvn -B -q -Dstyle.color=never -f "$here/kafka/pom.xml" \
  -Dkafka.version="$KAFKA_VERSION" \
  "$DEPENDENCY_PLUGIN:copy-dependencies" \
  -DincludeScope=runtime \
  -DoutputDirectory="$staging" >&2

if ! ls "$staging"/kafka_2.13-"$KAFKA_VERSION".jar >/dev/null 2>&1; then
  echo "setup-kafka: mvn finished but kafka_2.13-$KAFKA_VERSION.jar is missing from $staging" >&2
  exit 4
fi
mv "$staging" "$libs"
echo "$KAFKA_VERSION" > "$marker"
echo "$libs"
