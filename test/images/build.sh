#!/usr/bin/env bash
# Build the local base images the Docker tests run against, from Debian packages only
# (there is no image registry to pull from). See test/images/README.md.
#
#   test/images/build.sh [IMAGE...]     IMAGE: bookworm busybox musl distroless nonroot
#                                       python pydata
#                                       (or the full tag, e.g. rc-test/musl:1); default: all
#
# An image whose tag already exists is left alone ("cached"); to rebuild one, `docker rmi` its
# tag and run this again. Downloads and the debootstrapped rootfs are kept under
# .cache/images/ (override: RC_IMAGES_CACHE), so rebuilding an image is fast too.
# Prints one line per image on stdout: TAG built|cached SECONDS. The build steps' own output
# goes to .cache/images/logs/NAME.log and is shown (its tail) only when a step fails.
set -euo pipefail
shopt -s inherit_errexit  # let failures inside $(...) stop a build too

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
CACHE=${RC_IMAGES_CACHE:-$ROOT/.cache/images}
MIRROR=${RC_DEBIAN_MIRROR:-http://deb.debian.org/debian}
SUITE=bookworm
ENV_PATH='PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
ALL=(bookworm busybox musl distroless nonroot python pydata)

die() { echo "build.sh: ERROR: $*" >&2; exit 1; }
tag_of() { echo "rc-test/$1:1"; }
is_root() { [ "$(id -u)" -eq 0 ]; }
now_ms() { local t=${EPOCHREALTIME/[.,]/}; echo $((t / 1000)); }
image_exists() { docker image inspect "$1" >/dev/null 2>&1; }

usage() {
  sed -n '2,13p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

# ---------------------------------------------------------------- helpers (run inside a build)

# Remove a scratch directory, unmounting anything a crashed debootstrap left mounted in it.
clean_dir() {
  local dir=$1 m
  [ -e "$dir" ] || return 0
  dir=$(cd "$dir" && pwd -P)
  if [ -r /proc/self/mounts ]; then
    awk -v d="$dir" '$2 == d || index($2, d "/") == 1 { print $2 }' /proc/self/mounts | sort -r |
      while read -r m; do umount -l "$m" 2>/dev/null || true; done
  fi
  rm -rf --one-file-system "$dir"
}

# Print the path of PKG's .deb in the cache, downloading it first if needed.
fetch_deb() {
  local pkg=$1 debs="$CACHE/debs" f tmp
  mkdir -p "$debs"
  f=$(find "$debs" -maxdepth 1 -name "${pkg}_*.deb" | sort | tail -n1)
  if [ -z "$f" ]; then
    tmp=$(mktemp -d "$debs/.dl.XXXXXX")
    local apt_opts=(-q)
    # As root apt would warn that its sandbox user cannot write here; it falls back anyway.
    is_root && apt_opts+=(-o APT::Sandbox::User=root)
    if ! (cd "$tmp" && apt-get download "${apt_opts[@]}" "$pkg") >&2; then
      if is_root; then
        echo "apt-get download $pkg failed; running apt-get update and retrying" >&2
        apt-get update -qq </dev/null >&2 || true
        (cd "$tmp" && apt-get download "${apt_opts[@]}" "$pkg") >&2 || { rm -rf "$tmp"; die "apt-get download $pkg failed"; }
      else
        rm -rf "$tmp"; die "apt-get download $pkg failed (apt lists missing? run 'apt-get update' as root)"
      fi
    fi
    mv "$tmp"/"${pkg}"_*.deb "$debs"/
    rm -rf "$tmp"
    f=$(find "$debs" -maxdepth 1 -name "${pkg}_*.deb" | sort | tail -n1)
  fi
  [ -n "$f" ] || die "no .deb for $pkg"
  echo "$f"
}

# Extract PKG's files into a fresh directory and print its path.
extract_deb() {
  local pkg=$1 deb dir="$WORK/deb-$1"
  deb=$(fetch_deb "$pkg")
  rm -rf "$dir"; mkdir -p "$dir"
  dpkg-deb -x "$deb" "$dir"
  echo "$dir"
}

# The skeleton every hand-made rootfs gets: FHS dirs, /tmp 1777, /root 700.
skeleton() {
  local root=$1
  mkdir -p "$root"/{bin,sbin,etc,lib,dev,proc,sys,root,tmp,var/tmp,usr/bin,usr/sbin,home}
  chmod 0755 "$root" "$root"/{bin,sbin,etc,lib,dev,proc,sys,usr,usr/bin,usr/sbin,home,var}
  chmod 1777 "$root/tmp" "$root/var/tmp"
  chmod 0700 "$root/root"
}

# Static busybox as /bin/busybox plus a symlink for every applet (what `busybox --install -s`
# would do), at the paths busybox itself lists. Never a bash.
install_busybox() {
  local root=$1 x p
  x=$(extract_deb busybox-static)
  install -m 0755 "$x/bin/busybox" "$root/bin/busybox"
  "$x/bin/busybox" --list-full >"$WORK/applets"
  [ -s "$WORK/applets" ] || die "busybox --list-full printed nothing"
  while read -r p; do
    case "$p" in '' | bin/busybox | linuxrc | */bash | bash) continue ;; esac
    mkdir -p "$root/$(dirname "$p")"
    ln -sfn /bin/busybox "$root/$p"
  done <"$WORK/applets"
  [ -L "$root/bin/sh" ] || die "busybox has no sh applet"
}

write_busybox_etc() {
  local root=$1
  printf '%s\n' 'root:x:0:0:root:/root:/bin/sh' 'nobody:x:65534:65534:nobody:/nonexistent:/bin/false' >"$root/etc/passwd"
  printf '%s\n' 'root:x:0:' 'nogroup:x:65534:' >"$root/etc/group"
  chmod 0644 "$root/etc/passwd" "$root/etc/group"
}

# Tar ROOTFS owned by root (whoever runs this), except the paths given as PATH:UID:GID, and
# import it as TAG with the given --change instructions.
import_rootfs() {
  local root=$1 tag=$2; shift 2
  local changes=() owned=() a
  for a in "$@"; do
    case "$a" in
      own=*) owned+=("${a#own=}") ;;
      *) changes+=(--change "$a") ;;
    esac
  done
  local tarball="$WORK/rootfs.tar" excl=() spec
  for spec in "${owned[@]}"; do excl+=(--exclude="./${spec%%:*}"); done
  tar -C "$root" --numeric-owner --owner=0 --group=0 "${excl[@]}" -cf "$tarball" .
  for spec in "${owned[@]}"; do
    local p=${spec%%:*} ids=${spec#*:}
    tar -C "$root" --numeric-owner --owner="${ids%%:*}" --group="${ids#*:}" -rf "$tarball" "./$p"
  done
  docker import "${changes[@]}" -m "built by test/images/build.sh" "$tarball" "$tag"
}

# ---------------------------------------------------------------- the images

# The cached rootfs tarball NAME (see debootstrap_tarball).
tarball_of() { echo "$CACHE/$SUITE-$1.tar"; }

# Make tarball_of NAME, a `debootstrap --variant=minbase` rootfs with PACKAGES (and what they
# depend on, not what they recommend) added, unless it exists. The function named SETUP ("-" for
# none) is run on the rootfs before it is packed.
debootstrap_tarball() {
  local name=$1 setup=$2; shift 2
  local tarball include=()
  tarball=$(tarball_of "$name")
  [ $# -gt 0 ] && include=("--include=$(IFS=,; echo "$*")")
  if [ ! -s "$tarball" ]; then
    is_root || die "debootstrap needs root: run this script as root once to create $tarball"
    if ! command -v debootstrap >/dev/null 2>&1; then
      echo "installing debootstrap" >&2
      export DEBIAN_FRONTEND=noninteractive
      apt-get update -qq </dev/null || true
      apt-get install -y -qq -o Dpkg::Use-Pty=0 debootstrap </dev/null || die "apt-get install debootstrap failed"
    fi
    local dir="$WORK/rootfs"
    clean_dir "$dir"
    mkdir -p "$CACHE/debootstrap-debs"
    debootstrap --variant=minbase "${include[@]}" --cache-dir="$CACHE/debootstrap-debs" "$SUITE" "$dir" "$MIRROR" </dev/null ||
      die "debootstrap failed"
    [ "$setup" = - ] || "$setup" "$dir"
    # Host details debootstrap copied in; Docker provides its own at run time.
    rm -f "$dir/etc/resolv.conf" "$dir/etc/hostname"
    find "$dir/dev" -mindepth 1 -delete
    rm -rf "$dir"/var/cache/apt/archives/*.deb "$dir"/var/cache/apt/*.bin "$dir"/var/lib/apt/lists/* \
      "$dir"/var/log/bootstrap.log
    tar -C "$dir" --numeric-owner -cf "$tarball.tmp" .
    mv "$tarball.tmp" "$tarball"
    clean_dir "$dir"
  fi
}

build_bookworm() {
  local tag=$1 tarball
  debootstrap_tarball minbase -
  tarball=$(tarball_of minbase)
  docker import --change "ENV $ENV_PATH" --change 'CMD ["/bin/bash"]' \
    -m "debootstrap --variant=minbase $SUITE, built by test/images/build.sh" "$tarball" "$tag"
}

# A login user besides root, for the cells-run-as-the-session-user tests (`docker run --user
# 1000:1000`, or the server's --username agent).
add_agent_user() {
  local root=$1
  chroot "$root" groupadd -g 1000 agent
  chroot "$root" useradd -m -u 1000 -g 1000 -d /home/agent -s /bin/bash agent
}

# Plain Python: the interpreter and venv, no IPython (the driver's plain-Python mode).
PYTHON_PACKAGES=(python3 python3-venv)
# Debian's IPython, matplotlib and pip: `!cmd`, `%pip` and figures. python3-munkres is the
# second choice of python3-fonttools' `python3-scipy | python3-munkres`: with it scipy can go.
PYDATA_PACKAGES=(python3 python3-matplotlib ipython3 python3-pip python3-munkres)

# debootstrap takes the first of alternatives, so python3-fonttools brings python3-scipy, which
# brings pythran, g++ and the Boost headers (1.2 GB in all). Purge scipy (munkres stands in for
# it) and then whatever neither PACKAGES nor the required/important base still depend on.
slim_rootfs() {
  local root=$1; shift
  chroot "$root" dpkg --purge python3-scipy
  chroot "$root" dpkg-query -W -f='${Package} ${Priority}\n' | awk '$2 != "required" && $2 != "important" { print $1 }' |
    grep -vxF -f <(printf '%s\n' "$@") | xargs chroot "$root" apt-mark auto >/dev/null
  chroot "$root" env DEBIAN_FRONTEND=noninteractive apt-get autoremove --purge -y -q \
    -o APT::AutoRemove::RecommendsImportant=false -o APT::AutoRemove::SuggestsImportant=false </dev/null
}

setup_pydata() { add_agent_user "$1"; slim_rootfs "$1" "${PYDATA_PACKAGES[@]}"; }

# bookworm minbase plus PACKAGES, as TAG; the rootfs is cached as NAME, and SETUP run on it.
build_with_packages() {
  local tag=$1 name=$2 setup=$3; shift 3
  debootstrap_tarball "$name" "$setup" "$@"
  docker import --change "ENV $ENV_PATH" --change 'CMD ["/bin/bash"]' \
    -m "debootstrap --variant=minbase --include=$(IFS=,; echo "$*") $SUITE, built by test/images/build.sh" \
    "$(tarball_of "$name")" "$tag"
}

build_python() { build_with_packages "$1" python add_agent_user "${PYTHON_PACKAGES[@]}"; }
build_pydata() { build_with_packages "$1" pydata setup_pydata "${PYDATA_PACKAGES[@]}"; }

build_busybox() {
  local tag=$1 root="$WORK/rootfs"
  clean_dir "$root"; skeleton "$root"
  install_busybox "$root"
  write_busybox_etc "$root"
  import_rootfs "$root" "$tag" "ENV $ENV_PATH" 'CMD ["/bin/sh"]'
}

build_musl() {
  local tag=$1 root="$WORK/rootfs" x
  clean_dir "$root"; skeleton "$root"
  x=$(extract_deb musl)
  [ -e "$x/lib/ld-musl-x86_64.so.1" ] || die "package musl has no /lib/ld-musl-x86_64.so.1"
  cp -a "$x/lib/." "$root/lib/"
  mkdir -p "$root/etc"
  cp -a "$x/etc/." "$root/etc/"
  # Alpine's name for the same file, which binaries built on Alpine are linked against.
  ln -sfn ld-musl-x86_64.so.1 "$root/lib/libc.musl-x86_64.so.1"
  install_busybox "$root"
  write_busybox_etc "$root"
  import_rootfs "$root" "$tag" "ENV $ENV_PATH" 'CMD ["/bin/sh"]'
}

build_distroless() {
  local tag=$1 root="$WORK/rootfs" x
  clean_dir "$root"
  mkdir -p "$root"/{etc,lib/x86_64-linux-gnu,lib64,root,tmp,home/nonroot,proc,sys,dev}
  chmod 1777 "$root/tmp"; chmod 0700 "$root/root" "$root/home/nonroot"
  x=$(extract_deb libc6)
  # The loader and the shared libraries; not gconv (iconv modules, 8 MB) nor the docs.
  cp -a "$x"/lib/x86_64-linux-gnu/*.so* "$root/lib/x86_64-linux-gnu/"
  cp -a "$x/lib64/ld-linux-x86-64.so.2" "$root/lib64/"
  cp -a "$x/etc/ld.so.conf.d" "$root/etc/"
  [ -e "$root/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2" ] || die "libc6 has no loader"
  printf '%s\n' 'root:x:0:0:root:/root:/sbin/nologin' \
    'nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin' \
    'nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin' >"$root/etc/passwd"
  printf '%s\n' 'root:x:0:' 'nogroup:x:65534:' 'nonroot:x:65532:' >"$root/etc/group"
  printf '%s\n' 'passwd: files' 'group: files' 'shadow: files' 'hosts: files dns' >"$root/etc/nsswitch.conf"
  chmod 0644 "$root"/etc/{passwd,group,nsswitch.conf}
  if [ -n "$(find "$root" \( -name sh -o -name bash -o -name busybox \) -print)" ]; then die "distroless rootfs has a shell"; fi
  import_rootfs "$root" "$tag" "ENV $ENV_PATH" own=home/nonroot:65532:65532
}

build_nonroot() {
  local tag=$1 ctx="$CACHE/nonroot"
  mkdir -p "$ctx"
  cat >"$ctx/Dockerfile" <<EOF
# Generated by test/images/build.sh: a base image whose USER, WORKDIR and ENV are not root's.
FROM $(tag_of bookworm)
RUN set -e; \\
    if command -v useradd >/dev/null 2>&1; then \\
      groupadd -g 1000 agent && useradd -m -u 1000 -g 1000 -d /home/agent -s /bin/bash agent; \\
    else \\
      echo 'agent:x:1000:1000:agent:/home/agent:/bin/bash' >>/etc/passwd; \\
      echo 'agent:x:1000:' >>/etc/group; \\
      mkdir -p /home/agent; \\
    fi; \\
    mkdir -p /home/agent/project; \\
    chown -R 1000:1000 /home/agent
USER agent
WORKDIR /home/agent/project
ENV AGENT_MARKER=from-base-image
EOF
  DOCKER_BUILDKIT=0 docker build --rm --force-rm -t "$tag" "$ctx"
}

# ---------------------------------------------------------------- driver

declare -A SEEN=()

# ensure NAME: build NAME's image unless its tag exists; print the result line.
ensure() {
  local name=$1 tag t0 rc log
  [ -n "${SEEN[$name]:-}" ] && return 0
  SEEN[$name]=1
  tag=$(tag_of "$name")
  t0=$(now_ms)
  if image_exists "$tag"; then
    printf '%-24s %-7s %6.1fs\n' "$tag" cached "$(awk -v ms=$(($(now_ms) - t0)) 'BEGIN{print ms/1000}')"
    return 0
  fi
  [ "$name" = nonroot ] && ensure bookworm
  t0=$(now_ms)
  WORK="$CACHE/work/$name"
  log="$CACHE/logs/$name.log"
  mkdir -p "$WORK" "$CACHE/logs"
  set +e
  (
    set -euo pipefail
    exec >"$log" 2>&1 </dev/null
    "build_$name" "$tag"
  )
  rc=$?
  set -e
  if [ "$rc" -ne 0 ] || ! image_exists "$tag"; then
    echo "build.sh: ERROR: building $tag failed (exit $rc); last lines of $log:" >&2
    tail -n 25 "$log" >&2 || true
    exit 1
  fi
  clean_dir "$WORK"
  printf '%-24s %-7s %6.1fs\n' "$tag" built "$(awk -v ms=$(($(now_ms) - t0)) 'BEGIN{print ms/1000}')"
}

main() {
  local want=() a n ok
  for a in "$@"; do
    case "$a" in
      -h | --help) usage; exit 0 ;;
    esac
    n=${a#rc-test/}; n=${n%:1}
    ok=
    for x in "${ALL[@]}"; do [ "$x" = "$n" ] && ok=1; done
    [ -n "$ok" ] || die "unknown image '$a' (known: ${ALL[*]})"
    want+=("$n")
  done
  [ ${#want[@]} -gt 0 ] || want=("${ALL[@]}")

  command -v docker >/dev/null 2>&1 || die "no docker CLI on PATH (run scripts/docker-engine.sh as root)"
  docker info >/dev/null 2>&1 || die "the Docker engine does not answer (run scripts/docker-engine.sh as root)"
  if ! command -v dpkg-deb >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
    die "needs apt-get and dpkg-deb (a Debian machine)"
  fi

  mkdir -p "$CACHE"
  # One build at a time per cache (parallel test workers may all call this).
  if command -v flock >/dev/null 2>&1; then
    exec 8>>"$CACHE/.lock"
    flock -w 1800 8 || die "timed out waiting for another build.sh (lock $CACHE/.lock)"
  fi
  for n in "${want[@]}"; do ensure "$n"; done
}

main "$@"
