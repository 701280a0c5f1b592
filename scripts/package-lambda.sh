#!/usr/bin/env bash
# Build the `inject` and `admin` Lambda binaries and zip each as `bootstrap`
# (the provided.al2023 custom runtime's entry point) into dist/inject.zip and
# dist/admin.zip, which infra/ deploys by default.
#
#   bash scripts/package-lambda.sh
#
# Environment (all optional):
#   KEYBROKER_TARGET   Rust target triple to build for, e.g.
#                      aarch64-unknown-linux-gnu (what infra/'s default
#                      architectures = ["arm64"] needs) or
#                      x86_64-unknown-linux-gnu. Default: the host.
#                      docs/OPERATIONS.md#cross-compiling-for-arm64 says how to
#                      set up the linker.
#   KEYBROKER_PROFILE  Cargo profile: release (default; LTO, stripped, what you
#                      deploy) or dev (fast, large, for checking this script).
#   KEYBROKER_DIST     Output directory (default: <repo>/dist).
#   KEYBROKER_ALLOW_NEWER_GLIBC=1
#                      Package even if the binary needs a newer glibc than
#                      Amazon Linux 2023 has (it would fail to start on Lambda).
#
# The release profile lives in the root Cargo.toml: lto = "fat",
# codegen-units = 1, strip = true, opt-level = 3, and panic stays "unwind" so
# zeroizing destructors still wipe secret buffers on a panic.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

profile="${KEYBROKER_PROFILE:-release}"
target="${KEYBROKER_TARGET:-}"
dist="${KEYBROKER_DIST:-$repo/dist}"
# Amazon Linux 2023, the provided.al2023 runtime's OS, ships glibc 2.34.
al2023_glibc="2.34"

case "$profile" in
  release) profile_dir=release ;;
  dev) profile_dir=debug ;;
  *) echo "KEYBROKER_PROFILE must be release or dev, not '$profile'" >&2; exit 2 ;;
esac

host="$(rustc -vV | sed -n 's/^host: //p')"
triple="${target:-$host}"
case "$triple" in
  aarch64-*) lambda_arch=arm64 ;;
  x86_64-*) lambda_arch=x86_64 ;;
  *) echo "unsupported target '$triple': Lambda runs aarch64 or x86_64 Linux" >&2; exit 2 ;;
esac
case "$triple" in
  *-linux-*) ;;
  *) echo "target '$triple' is not Linux; set KEYBROKER_TARGET to a *-unknown-linux-* triple" >&2; exit 2 ;;
esac

cargo_args=(build --locked --profile "$profile" -p keybroker-lambda --bins)
target_root="${CARGO_TARGET_DIR:-$repo/target}"
if [[ -n "$target" ]]; then
  cargo_args+=(--target "$target")
  bin_dir="$target_root/$target/$profile_dir"
else
  bin_dir="$target_root/$profile_dir"
fi

echo "== cargo ${cargo_args[*]}"
cargo "${cargo_args[@]}"

# Highest GLIBC_x.y symbol version a binary needs (readelf reads any ELF
# architecture), or nothing if it cannot tell.
glibc_needed() {
  command -v readelf >/dev/null 2>&1 || return 0
  readelf -W -V "$1" 2>/dev/null | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/GLIBC_//' | sort -uV | tail -n 1
}

# zip with `zip` if present, else Python's zipfile; either way the entry is
# named `bootstrap` and keeps its 0755 mode. The mtime is pinned so identical
# binaries give identical zips (and Terraform sees no change).
make_zip() {
  local src="$1" out="$2" stage
  stage="$(mktemp -d)"
  cp "$src" "$stage/bootstrap"
  chmod 0755 "$stage/bootstrap"
  touch -t 198001010000 "$stage/bootstrap"
  rm -f "$out"
  if command -v zip >/dev/null 2>&1; then
    (cd "$stage" && zip -q -X -9 "$out" bootstrap)
  else
    (cd "$stage" && python3 -m zipfile -c "$out" bootstrap)
  fi
  rm -rf "$stage"
}

mkdir -p "$dist"
dist="$(cd "$dist" && pwd)"
for bin in inject admin; do
  src="$bin_dir/$bin"
  [[ -x "$src" ]] || { echo "expected binary not found: $src" >&2; exit 1; }
  needed="$(glibc_needed "$src")"
  if [[ -n "$needed" ]] && [[ "$(printf '%s\n%s\n' "$needed" "$al2023_glibc" | sort -V | tail -n 1)" != "$al2023_glibc" ]]; then
    echo "$bin needs glibc $needed, but provided.al2023 has $al2023_glibc: it would not start on Lambda." >&2
    echo "Build on an older distribution, with cargo-lambda (docs/OPERATIONS.md), or set KEYBROKER_ALLOW_NEWER_GLIBC=1." >&2
    [[ "${KEYBROKER_ALLOW_NEWER_GLIBC:-}" == 1 ]] || exit 1
  fi
  make_zip "$src" "$dist/$bin.zip"
  python3 - "$dist/$bin.zip" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    names = z.namelist()
    assert names == ["bootstrap"], f"zip must hold exactly 'bootstrap', not {names}"
    mode = (z.getinfo("bootstrap").external_attr >> 16) & 0o777
    assert mode & 0o111, f"bootstrap is not executable in the zip (mode {oct(mode)})"
PY
  size="$(wc -c <"$dist/$bin.zip" | tr -d ' ')"
  sum="$(sha256sum "$dist/$bin.zip" | cut -d' ' -f1)"
  echo "$dist/$bin.zip: $size bytes, sha256 $sum, glibc >= ${needed:-?}"
done

echo "built for $triple ($profile): deploy with architectures = [\"$lambda_arch\"] in infra/"
if [[ "$lambda_arch" != arm64 ]]; then
  echo "note: infra/ defaults to arm64; pass -var 'architectures=[\"$lambda_arch\"]' or cross-compile (KEYBROKER_TARGET=aarch64-unknown-linux-gnu)"
fi
if [[ "$profile" != release ]]; then
  echo "note: $profile build: fine for checking the packaging, not for deploying"
fi
