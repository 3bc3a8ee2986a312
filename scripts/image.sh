#!/usr/bin/env bash
# `npm run image [-- --arch amd64|arm64v8|arm32v7] [--check]`: builds edgeguard:local-<arch> from
# Dockerfile.<arch> where no container registry is reachable. The Dockerfile's base images are build
# arguments (defaulting to the official images); this script first makes local equivalents from what is
# reachable, cached between runs under $EDGEGUARD_IMAGE_CACHE (default /var/cache/edgeguard/images),
# keyed on their inputs, and `docker import`s them:
#   - Debian bookworm minbase from debootstrap, off the apt mirror of /etc/apt/sources.list*;
#   - the same plus Node 24 (binary and headers from the npm registry's node-linux-<arch> package, and npm
#     itself from the registry, for the build stage only).
# Then `docker build --network host --build-arg NODE_IMAGE=… --build-arg RUNTIME_BASE=…`. Uses the Docker
# daemon of DOCKER_HOST (tests point it at their private engine). Foreign architectures run under
# qemu-user-static with binfmt_misc (Debian packages, installed here when root); --check then runs
# `node -v`, `edgeguard scan` and the native addon's load inside the image.
# Prints SKIP with the reason and exits 77 when the image cannot be built on this machine.
set -u
cd "$(dirname "$0")/.."
say() { echo "image.sh: $*" >&2; }
skip() { echo "image.sh: SKIP: $*" >&2; exit 77; }

arch=amd64
check=0
while [ $# -gt 0 ]; do
  case "$1" in
    --arch) arch=${2:-}; shift 2 ;;
    --arch=*) arch=${1#--arch=}; shift ;;
    --check) check=1; shift ;;
    *) echo "usage: npm run image -- [--arch amd64|arm64v8|arm32v7] [--check]" >&2; exit 2 ;;
  esac
done
case "$arch" in
  amd64) deb_arch=amd64 node_arch=x64 qemu= ;;
  arm64v8) deb_arch=arm64 node_arch=arm64 qemu=aarch64 ;;
  arm32v7) deb_arch=armhf node_arch= qemu=arm ;;
  *) echo "image.sh: unknown --arch $arch" >&2; exit 2 ;;
esac
suite=bookworm
[ "$arch" = arm32v7 ] && suite=forky # Node 24 for armv7 exists only as Debian's own nodejs package (see README)
TAG=${EDGEGUARD_IMAGE_TAG:-edgeguard:local-$arch}
CACHE=${EDGEGUARD_IMAGE_CACHE:-/var/cache/edgeguard/images}

[ "$(id -u)" = 0 ] || skip "not root: debootstrap needs root to build the base images"
command -v docker >/dev/null 2>&1 || skip "no docker command"
docker version --format '{{.Server.Version}}' >/dev/null 2>&1 || skip "no Docker daemon answers at ${DOCKER_HOST:-the default socket}"

need=()
command -v debootstrap >/dev/null 2>&1 || need+=(debootstrap)
[ -n "$qemu" ] && { command -v "qemu-$qemu-static" >/dev/null 2>&1 || need+=(qemu-user-static); }
[ -n "$qemu" ] && { command -v update-binfmts >/dev/null 2>&1 || need+=(binfmt-support); }
if [ ${#need[@]} -gt 0 ]; then
  say "installing ${need[*]} (apt-get)"
  { DEBIAN_FRONTEND=noninteractive apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}"; } >/tmp/edgeguard-image-apt.log 2>&1 \
    || skip "apt-get install ${need[*]} failed (see /tmp/edgeguard-image-apt.log)"
fi

# binfmt_misc: register qemu-user-static for foreign architectures (F flag: works inside chroots and containers).
if [ -n "$qemu" ]; then
  [ -e /proc/sys/fs/binfmt_misc/register ] || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc 2>/dev/null \
    || skip "cannot mount binfmt_misc (needed to run $arch binaries under qemu)"
  if [ ! -e "/proc/sys/fs/binfmt_misc/qemu-$qemu" ]; then
    command -v update-binfmts >/dev/null 2>&1 && update-binfmts --enable "qemu-$qemu" >/dev/null 2>&1
    [ -e "/proc/sys/fs/binfmt_misc/qemu-$qemu" ] || skip "qemu-$qemu is not registered with binfmt_misc (update-binfmts --enable qemu-$qemu failed)"
  fi
  grep -q '^flags:.*F' "/proc/sys/fs/binfmt_misc/qemu-$qemu" || skip "qemu-$qemu is registered without the F flag: containers cannot use it"
fi

# The apt mirror this machine uses (deb822 or one-line sources).
mirror=$(grep -hoE '(URIs:|^deb) +\S*https?://[^ ]+' /etc/apt/sources.list /etc/apt/sources.list.d/* 2>/dev/null | grep -v security | grep -oE 'https?://[^ ]+' | head -n1)
mirror=${mirror:-http://deb.debian.org/debian}

mkdir -p "$CACHE" && chmod 0755 "$CACHE"
platform=()
[ "$arch" = amd64 ] || platform=(--platform "linux/$( [ "$deb_arch" = armhf ] && echo arm/v7 || echo arm64)")
key() { printf '%s\n' "$@" "$(sha256sum "$0" | cut -c1-16)" | sha256sum | cut -c1-12; }

# Debian rootfs, slim like the official images (no docs, man pages, locales).
base_key=$(key "$suite" "$deb_arch" "$mirror" minbase)
base_tar="$CACHE/debian-$suite-$deb_arch-$base_key.tar"
if [ ! -s "$base_tar" ]; then
  root=$(mktemp -d /tmp/edgeguard-rootfs-XXXXXX)
  say "debootstrap $suite ($deb_arch, minbase) from $mirror (cached afterwards in $base_tar)"
  # bookworm's debootstrap has no script for forky (testing) yet: sid's is the same.
  script=()
  [ -e "/usr/share/debootstrap/scripts/$suite" ] || script=(/usr/share/debootstrap/scripts/sid)
  if ! debootstrap --variant=minbase --arch="$deb_arch" "$suite" "$root" "$mirror" "${script[@]}" >/tmp/edgeguard-debootstrap.log 2>&1; then
    tail -n 5 /tmp/edgeguard-debootstrap.log >&2; rm -rf "$root"; skip "debootstrap failed (see /tmp/edgeguard-debootstrap.log)"
  fi
  mkdir -p "$root/etc/dpkg/dpkg.cfg.d"
  printf 'path-exclude /usr/share/doc/*\npath-include /usr/share/doc/*/copyright\npath-exclude /usr/share/man/*\npath-exclude /usr/share/info/*\npath-exclude /usr/share/locale/*\npath-exclude /usr/share/lintian/*\n' >"$root/etc/dpkg/dpkg.cfg.d/docker-slim"
  printf 'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n' >"$root/etc/apt/apt.conf.d/docker-no-recommends"
  find "$root/usr/share/doc" -mindepth 1 ! -name copyright ! -type d -delete 2>/dev/null
  rm -rf "$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/usr/share/locale/* "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* "$root"/var/log/* "$root"/tmp/*
  tar -C "$root" --numeric-owner -cf "$base_tar.part" . && mv "$base_tar.part" "$base_tar"
  rm -rf "$root"
fi
BASE_IMAGE="edgeguard-base/debian:$suite-$deb_arch-$base_key"
docker image inspect "$BASE_IMAGE" >/dev/null 2>&1 || docker import "${platform[@]}" -c 'CMD ["bash"]' \
  -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' "$base_tar" "$BASE_IMAGE" >/dev/null \
  || skip "docker import of $base_tar failed"

# Node image: the Debian rootfs plus Node 24 and npm at /usr/local, as in the official node images.
if [ -n "$node_arch" ]; then
  node_dir=$(bash scripts/node-runtime.sh "$node_arch") || skip "cannot fetch node-linux-$node_arch@24 from the npm registry"
  node_version=$(jq -r .version "$node_dir/package.json")
  npm_tgz=$(ls "$CACHE"/npm-*.tgz 2>/dev/null | head -n1)
  if [ -z "$npm_tgz" ]; then
    (cd "$CACHE" && npm pack npm@11 --silent --loglevel=error </dev/null >/dev/null) || skip "cannot fetch npm from the npm registry"
    npm_tgz=$(ls "$CACHE"/npm-*.tgz | head -n1)
  fi
  node_key=$(key "$base_key" "$node_arch" "$node_version" "$(basename "$npm_tgz")")
  NODE_IMAGE="edgeguard-base/node:24-$suite-$deb_arch-$node_key"
  if ! docker image inspect "$NODE_IMAGE" >/dev/null 2>&1; then
    root=$(mktemp -d /tmp/edgeguard-noderoot-XXXXXX)
    tar -C "$root" -xf "$base_tar"
    mkdir -p "$root/usr/local/bin" "$root/usr/local/include" "$root/usr/local/lib/node_modules/npm"
    cp "$node_dir/bin/node" "$root/usr/local/bin/node"
    cp -r "$node_dir/include/node" "$root/usr/local/include/"
    tar -C "$root/usr/local/lib/node_modules/npm" --strip-components=1 -xzf "$npm_tgz"
    ln -s ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/local/bin/npm"
    ln -s ../lib/node_modules/npm/bin/npx-cli.js "$root/usr/local/bin/npx"
    # The build stage runs `npm ci`: give it this machine's trust store when the registry is reached
    # through a TLS-inspecting proxy (as here). Only the build stage's image has it.
    env_ca=()
    if [ -s /etc/ssl/certs/ca-certificates.crt ]; then
      mkdir -p "$root/etc/ssl/certs" && cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/edgeguard-build-ca.crt"
      env_ca=(-c 'ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/edgeguard-build-ca.crt')
    fi
    tar -C "$root" --numeric-owner -c . | docker import "${platform[@]}" -c 'CMD ["node"]' \
      -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' -c "ENV NODE_VERSION=$node_version" "${env_ca[@]}" - "$NODE_IMAGE" >/dev/null \
      || { rm -rf "$root"; skip "docker import of the Node image failed"; }
    rm -rf "$root"
  fi
  build_args=(--build-arg "NODE_IMAGE=$NODE_IMAGE" --build-arg "RUNTIME_BASE=$BASE_IMAGE")
else
  # arm32v7: Debian's nodejs (Node 24) on forky; the Dockerfile installs it from the base image's apt.
  build_args=(--build-arg "BASE=$BASE_IMAGE")
  # The build stage runs `npm ci`: as for the Node image above, it gets this machine's trust store when
  # there is one (TLS-inspecting proxy); the runtime stage keeps the plain base.
  if [ -s /etc/ssl/certs/ca-certificates.crt ]; then
    BUILD_IMAGE="edgeguard-base/debian-build:$suite-$deb_arch-$base_key-$(sha256sum /etc/ssl/certs/ca-certificates.crt | cut -c1-8)"
    if ! docker image inspect "$BUILD_IMAGE" >/dev/null 2>&1; then
      root=$(mktemp -d /tmp/edgeguard-buildroot-XXXXXX)
      tar -C "$root" -xf "$base_tar"
      mkdir -p "$root/etc/ssl/certs" && cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/edgeguard-build-ca.crt"
      tar -C "$root" --numeric-owner -c . | docker import "${platform[@]}" -c 'CMD ["bash"]' \
        -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' -c 'ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/edgeguard-build-ca.crt' - "$BUILD_IMAGE" >/dev/null \
        || { rm -rf "$root"; skip "docker import of the build base failed"; }
      rm -rf "$root"
    fi
    build_args+=(--build-arg "BUILD_BASE=$BUILD_IMAGE")
  fi
  # A mirror snapshot older than today serves forky's Release past its Valid-Until (seen here).
  [ -n "${EDGEGUARD_APT_CHECK_VALID_UNTIL:-}" ] && build_args+=(--build-arg "APT_CHECK_VALID_UNTIL=$EDGEGUARD_APT_CHECK_VALID_UNTIL")
fi

say "docker build -f Dockerfile.$arch -t $TAG (network host)"
started=$SECONDS
docker build --network host "${build_args[@]}" -f "Dockerfile.$arch" -t "$TAG" . >/tmp/edgeguard-image-build-$arch.log 2>&1 \
  || { tail -n 20 "/tmp/edgeguard-image-build-$arch.log" >&2; say "docker build failed (log: /tmp/edgeguard-image-build-$arch.log)"; exit 1; }
size=$(docker image inspect -f '{{.Size}}' "$TAG")
say "built $TAG in $((SECONDS - started)) s: $((size / 1000000)) MB"

if [ "$check" = 1 ]; then
  say "checking $TAG: node -v, edgeguard scan, native addon"
  docker run --rm --network none --entrypoint node "$TAG" -v || exit 1
  docker run --rm --network none --entrypoint sh -v "$PWD/deployment.template.json:/tmp/d.json:ro" "$TAG" \
    -c 'node dist/src/cli/main.js scan /tmp/d.json; test $? -le 1' || { say "edgeguard scan failed in $TAG"; exit 1; }
  docker run --rm --network none --entrypoint node "$TAG" -e \
    'const a = require("/app/build/Release/edgeguard_native.node"); console.log("native addon loaded on", process.arch, "exports:", Object.getOwnPropertyNames(a).join(", ") || typeof a)' \
    || { say "the native addon does not load in $TAG"; exit 1; }
fi
echo "$TAG"
