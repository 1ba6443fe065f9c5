#!/usr/bin/env bash
# Builds the MongoDB-compatible server (FerretDB), Stripe's API mock (stripe-mock) and the drive
# log's Go reference checker (test/transparency/go-checker) once, into a cache folder outside the
# clone, so reruns and other clones reuse them.
#   scripts/install-test-services.sh [ferretdb|stripe-mock|go-checker|all]
# Prints nothing but progress on stderr; exits non-zero if a build fails.
set -euo pipefail

FERRETDB_VERSION=v1.24.2
# The build carries one patch (see build_ferretdb); the suffix keeps an unpatched cached binary
# from being reused.
FERRETDB_BUILD=$FERRETDB_VERSION-idindex
STRIPE_MOCK_VERSION=v0.203.0
BIN_DIR="${MEMBERSHIP_DRIVE_CACHE:-$HOME/.cache/membership-drive}/bin"
ROOT=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$BIN_DIR"

need_go() {
  command -v go >/dev/null 2>&1 || { echo "Go is needed to build $1 (https://go.dev/dl/), or put $1 on PATH" >&2; exit 1; }
}

build_ferretdb() {
  local bin="$BIN_DIR/ferretdb-$FERRETDB_BUILD"
  [ -x "$bin" ] && return 0
  need_go FerretDB
  echo "building FerretDB $FERRETDB_VERSION into $BIN_DIR (once, about a minute)" >&2
  # `go install ...@version` builds a binary that panics at start: FerretDB reads its version from
  # build/version/version.txt, which the published module leaves empty. Build from a copy that has it.
  local src work
  src=$(GOFLAGS=-mod=mod go mod download -json "github.com/FerretDB/FerretDB@$FERRETDB_VERSION" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
  work=$(mktemp -d)
  cp -r "$src/." "$work/"
  chmod -R u+w "$work"
  echo "$FERRETDB_VERSION" > "$work/build/version/version.txt"
  # The one patch: stock 1.24.2 queries `_id` as `_ferretdb_sjson->'$._id'` while its unique index
  # is on `_ferretdb_sjson->"_id"`, so SQLite never uses the index and every `_id` lookup scans the
  # collection (findOne 1.0 s, updateOne 2.6 s at 100k documents). `->'_id'` is the same value
  # (SQLite reads a bare label as `$._id`) in the index's spelling: 3-4 ms, flat from 1k to 100k.
  # test/infra/id-index.test.ts fails if `_id` lookups scan again.
  local meta="$work/internal/backends/sqlite/metadata/metadata.go"
  sed -i "s|IDColumn = DefaultColumn + \"->'\$._id'\"|IDColumn = DefaultColumn + \"->'_id'\"|" "$meta"
  grep -q "IDColumn = DefaultColumn + \"->'_id'\"" "$meta" || { echo "FerretDB _id index patch did not apply" >&2; exit 1; }
  (cd "$work" && go build -buildvcs=false -o "$bin.tmp" ./cmd/ferretdb)
  mv "$bin.tmp" "$bin"
  rm -rf "$work"
}

build_stripe_mock() {
  local bin="$BIN_DIR/stripe-mock-$STRIPE_MOCK_VERSION"
  [ -x "$bin" ] && return 0
  need_go stripe-mock
  echo "building stripe-mock $STRIPE_MOCK_VERSION into $BIN_DIR (once)" >&2
  local tmp
  tmp=$(mktemp -d)
  GOBIN="$tmp" go install "github.com/stripe/stripe-mock@$STRIPE_MOCK_VERSION"
  mv "$tmp/stripe-mock" "$bin"
  rm -rf "$tmp"
}

# The checker is ours, so its binary is keyed by a hash of its sources: a change builds anew.
go_checker_bin() {
  local src="$ROOT/test/transparency/go-checker" hash
  hash=$(cat "$src/go.mod" "$src/go.sum" "$src"/*.go | sha256sum | cut -c1-16)
  echo "$BIN_DIR/drive-go-checker-$hash"
}

build_go_checker() {
  local bin
  bin=$(go_checker_bin)
  [ -x "$bin" ] && return 0
  need_go "the drive log's Go checker"
  echo "building the drive log's Go checker into $BIN_DIR (once per change of its sources)" >&2
  # go.sum pins golang.org/x/mod; -mod=readonly never rewrites the checked-in go.mod or go.sum.
  (cd "$ROOT/test/transparency/go-checker" && go build -mod=readonly -buildvcs=false -o "$bin.$$.tmp" .)
  mv "$bin.$$.tmp" "$bin"
}

case "${1:-all}" in
  ferretdb) build_ferretdb; echo "$BIN_DIR/ferretdb-$FERRETDB_BUILD" ;;
  stripe-mock) build_stripe_mock; echo "$BIN_DIR/stripe-mock-$STRIPE_MOCK_VERSION" ;;
  go-checker) build_go_checker; go_checker_bin ;;
  all) build_ferretdb; build_stripe_mock; build_go_checker ;;
  *) echo "usage: $0 [ferretdb|stripe-mock|go-checker|all]" >&2; exit 2 ;;
esac
