#!/usr/bin/env bash
# Makes the Pulumi CLI and the dynamic-provider shim available without get.pulumi.com.
# Uses a `pulumi` already on PATH when its version matches; otherwise builds the CLI from the
# Go module proxy into a cache outside the repository, keyed by version. Idempotent.
# Prints the directory to put on PATH as its last line.
set -euo pipefail

version="${PULUMI_VERSION:-v3.274.1}"
cache_root="${PULUMI_LT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pulumi-linux-tuning}"
bin_dir="$cache_root/pulumi-$version/bin"
repo_root="$(cd "$(dirname "$0")/.." && pwd)"

log() { echo "[toolchain] $*" >&2; }

write_shim() {
  # The engine launches `pulumi-resource-pulumi-nodejs` for dynamic providers; it runs the
  # provider host shipped in @pulumi/pulumi, resolved from the program's working directory.
  mkdir -p "$bin_dir"
  cat > "$bin_dir/pulumi-resource-pulumi-nodejs" <<'SHIM'
#!/usr/bin/env bash
# Node's lookup (node_modules here, then in each parent), without a node process of its own:
# one provider start is one node start.
d=$PWD
while :; do
  entry=$d/node_modules/@pulumi/pulumi/cmd/dynamic-provider/index.js
  [[ -f $entry ]] && exec node "$entry" "$@"
  [[ -n $d ]] || break
  d=${d%/*}
done
echo "pulumi-resource-pulumi-nodejs: @pulumi/pulumi is not installed under $PWD (run npm ci)" >&2
exit 1
SHIM
  chmod +x "$bin_dir/pulumi-resource-pulumi-nodejs"
}

existing="$(command -v pulumi || true)"
if [[ -n "$existing" && "$existing" != "$bin_dir/pulumi" ]]; then
  have="$("$existing" version 2>/dev/null || true)"
  if [[ "$have" == "$version" ]]; then
    log "using $existing ($have)"
    write_shim
    # The Automation API and the tests look for the CLI in the printed directory itself.
    ln -sfn "$(readlink -f "$existing")" "$bin_dir/pulumi"
    echo "$bin_dir"
    exit 0
  fi
  log "ignoring $existing (version '$have', want $version)"
fi

if [[ -x "$bin_dir/pulumi" && "$("$bin_dir/pulumi" version 2>/dev/null)" == "$version" ]]; then
  log "cached pulumi $version in $bin_dir"
  write_shim
  echo "$bin_dir"
  exit 0
fi

# The Go release that builds this CLI, fetched like any module (golang.org/toolchain) when the
# machine has no Go this new (Debian 12's golang is 1.19); pinned by the zip's SHA-256.
go_release="go1.26.8"
declare -A go_zip_sha256=(
  [amd64]=30c2b1bf7dcc88d3eb0a1364e47ddd9128edb3110a30e8a0ef61cd5856b31de7
  [arm64]=02b36b6787b3ac767668f630e2998df45a3b1f9ffee08d1bf3ef6487cd658d99
)

go_is_new_enough() {
  local have
  have="$(go env GOVERSION 2>/dev/null)" || return 1
  have="${have#go}"
  [[ "$(printf '%s\n' "${go_release#go}" "$have" | sort -V | head -n 1)" == "${go_release#go}" ]]
}

fetch_go() {
  local arch go_root zip proxy
  case "$(uname -m)" in
    x86_64) arch=amd64 ;;
    aarch64) arch=arm64 ;;
    *) log "no pinned Go toolchain for $(uname -m): install Go >= ${go_release#go} or put pulumi $version on PATH"; exit 1 ;;
  esac
  go_root="$cache_root/$go_release.linux-$arch"
  if [[ ! -x "$go_root/bin/go" ]]; then
    if ! command -v curl >/dev/null || ! command -v unzip >/dev/null; then
      log "installing curl and unzip"
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq curl unzip ca-certificates >&2 ||
        { apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq curl unzip ca-certificates >&2; }
    fi
    proxy="${GOPROXY:-https://proxy.golang.org}"
    proxy="${proxy%%[,|]*}"
    zip="$cache_root/$go_release.linux-$arch.zip"
    log "fetching Go $go_release from the Go module proxy (golang.org/toolchain)"
    mkdir -p "$cache_root"
    curl -fsSL --retry 3 -o "$zip.part" "$proxy/golang.org/toolchain/@v/v0.0.1-$go_release.linux-$arch.zip"
    if [[ "$(sha256sum "$zip.part" | cut -d' ' -f1)" != "${go_zip_sha256[$arch]}" ]]; then
      rm -f "$zip.part"
      log "the fetched Go toolchain does not match its pinned SHA-256; refusing it"
      exit 1
    fi
    rm -rf "$go_root.part" && mkdir -p "$go_root.part"
    unzip -q "$zip.part" -d "$go_root.part"
    mv "$go_root.part/golang.org/toolchain@v0.0.1-$go_release.linux-$arch" "$go_root"
    rm -rf "$go_root.part" "$zip.part"
    chmod +x "$go_root"/bin/* "$go_root"/pkg/tool/*/*
  fi
  export PATH="$go_root/bin:$PATH" GOTOOLCHAIN=local
}

if ! go_is_new_enough; then
  log "no Go >= ${go_release#go} on PATH"
  fetch_go
fi

build_dir="$cache_root/pulumi-$version/build"
mkdir -p "$build_dir" "$bin_dir"
cd "$build_dir"
export GOFLAGS=-mod=mod
log "building pulumi $version from the Go module proxy in $build_dir (a cold build takes 10-20 minutes on 2 cores)"

if [[ ! -f go.mod ]]; then
  go mod init pulumi-linux-tuning/toolchain >/dev/null 2>&1
fi
log "downloading github.com/pulumi/pulumi/{pkg,sdk}/v3@$version"
pkg_mod="$(go mod download -json "github.com/pulumi/pulumi/pkg/v3@$version" | sed -n 's/.*"GoMod": "\(.*\)",*/\1/p')"
sdk_mod="$(go mod download -json "github.com/pulumi/pulumi/sdk/v3@$version" | sed -n 's/.*"GoMod": "\(.*\)",*/\1/p')"
# pkg/go.mod carries `replace` directives that `go install` refuses; a consuming module must
# repeat the third-party ones (not the in-repo `=> ../sdk`).
grep -h '^replace ' "$pkg_mod" "$sdk_mod" | grep -v '=> \.\./' | sort -u | while read -r _ from _ to to_version; do
  go mod edit -replace "$from=$to@$to_version"
done
go mod edit -require "github.com/pulumi/pulumi/pkg/v3@$version" -require "github.com/pulumi/pulumi/sdk/v3@$version"
log "resolving the module graph"
go get "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi@$version" 2>&1 | tail -n 3 >&2 || true
log "compiling (go build -v lists packages as they finish)"
go build -v -o "$bin_dir/pulumi.tmp" \
  -ldflags "-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$version" \
  github.com/pulumi/pulumi/pkg/v3/cmd/pulumi 2>&1 | awk 'NR % 50 == 0 { printf "[toolchain] %d packages compiled\n", NR > "/dev/stderr" }'
mv "$bin_dir/pulumi.tmp" "$bin_dir/pulumi"
write_shim
log "built $("$bin_dir/pulumi" version) into $bin_dir"
echo "$bin_dir"
