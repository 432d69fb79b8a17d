#!/usr/bin/env bash
# Resolves Trino server (io.trino:trino-server, a tar.gz on Maven Central) and
# unpacks it into ${SHARDFLOW_CACHE:-$HOME/.cache/shardflow}/trino-<version>, once,
# keeping only the Hive connector: the 60-odd other plugins add nothing to the
# tests and each one costs start-up time (class loading) on 2 cores.
# local/trino/server.ts runs it on Java 25 as `java -cp 'lib/*' io.trino.server.TrinoServer`.
#
# Idempotent: a `.complete` marker is written last, so an interrupted run is
# redone and a complete one returns at once. Prints the Trino home directory.
set -euo pipefail

# Pinned here and in local/trino/server.ts (TRINO_VERSION). 476 is the newest
# trino-server published to Maven Central; it needs Java 24+.
TRINO_VERSION="${SHARDFLOW_TRINO_VERSION:-476}"
# Pinned so a fresh machine resolves the same plugin; 3.8.1 runs on Maven 3.6.3+.
DEPENDENCY_PLUGIN="org.apache.maven.plugins:maven-dependency-plugin:3.8.1"
# Plugins kept from the tarball's plugin/ folder (space-separated).
KEEP_PLUGINS="${SHARDFLOW_TRINO_PLUGINS:-hive}"

cache="${SHARDFLOW_CACHE:-$HOME/.cache/shardflow}"
home="$cache/trino-$TRINO_VERSION"
marker="$home/.complete"

if [[ -f "$marker" ]]; then
  echo "$home"
  exit 0
fi

if ! command -v mvn >/dev/null 2>&1; then
  echo "setup-trino: mvn not found on PATH. Install Apache Maven 3.6+ (Debian: apt-get install maven); it fetches io.trino:trino-server:$TRINO_VERSION from Maven Central." >&2
  exit 2
fi
if ! command -v tar >/dev/null 2>&1 || ! command -v gzip >/dev/null 2>&1; then
  echo "setup-trino: tar and gzip are needed to unpack trino-server-$TRINO_VERSION.tar.gz." >&2
  exit 2
fi

mkdir -p "$cache"
# Two concurrent setups (a test run and a dev session) must not interleave their unpacking.
exec 9>"$cache/.trino-$TRINO_VERSION.lock"
if command -v flock >/dev/null 2>&1; then
  flock -w 900 9 || { echo "setup-trino: timed out after 900 s waiting for another setup ($cache/.trino-$TRINO_VERSION.lock)" >&2; exit 3; }
fi
if [[ -f "$marker" ]]; then
  echo "$home"
  exit 0
fi

staging="$cache/trino-$TRINO_VERSION.partial"
rm -rf "$staging" "$home"
mkdir -p "$staging/download"
echo "setup-trino: resolving io.trino:trino-server:$TRINO_VERSION:tar.gz from Maven Central (821 MB the first time)" >&2
if ! mvn -B -q -Dstyle.color=never "$DEPENDENCY_PLUGIN:copy" \
  -Dartifact="io.trino:trino-server:$TRINO_VERSION:tar.gz" \
  -DoutputDirectory="$staging/download" -Dmdep.overWriteReleases=true >&2; then
  echo "setup-trino: mvn could not resolve io.trino:trino-server:$TRINO_VERSION:tar.gz (see the output above)" >&2
  exit 4
fi
tarball="$staging/download/trino-server-$TRINO_VERSION.tar.gz"
if [[ ! -s "$tarball" ]]; then
  echo "setup-trino: mvn finished but $tarball is missing or empty" >&2
  exit 4
fi

top="trino-server-$TRINO_VERSION"
# The whole tree, then the unwanted plugins removed: the tarball stores jars that
# several plugins share as hard links into the first plugin that has them
# (hive/ links into delta-lake/, bigquery/, ...), so extracting hive/ alone fails.
echo "setup-trino: unpacking into $home, keeping plugin(s): $KEEP_PLUGINS" >&2
tar -xzf "$tarball" -C "$staging"
rm -f "$tarball"
for p in $KEEP_PLUGINS; do
  if [[ ! -d "$staging/$top/plugin/$p" ]]; then
    echo "setup-trino: plugin '$p' is not in trino-server-$TRINO_VERSION.tar.gz" >&2
    exit 4
  fi
done
for dir in "$staging/$top/plugin"/*/; do
  name="$(basename "$dir")"
  case " $KEEP_PLUGINS " in
    *" $name "*) ;;
    *) rm -rf "$dir" ;;
  esac
done
if ! ls "$staging/$top/lib/io.trino_trino-main-$TRINO_VERSION.jar" >/dev/null 2>&1; then
  echo "setup-trino: unpacked, but lib/io.trino_trino-main-$TRINO_VERSION.jar is missing from $staging/$top" >&2
  exit 4
fi
mv "$staging/$top" "$home"
rm -rf "$staging"
echo "$TRINO_VERSION" > "$marker"
echo "$home"
