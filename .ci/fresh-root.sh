#!/usr/bin/env bash
# Runs commands in a fresh Debian 12 root, from a clean clone of one commit,
# as a new user on a fresh machine would: the root has only what
# `debootstrap --variant=minbase` gives plus ca-certificates (no compiler, no
# CMake, no git), so every package a build needs must be installed by the
# project's own scripts, and a missing install step fails. .ci/run calls it.
#
#   sudo bash .ci/fresh-root.sh 'bash .ci/test.sh' 'bash benchmarks/run.sh --quick'
#
# Each argument is one shell command, run in order as root in the clone
# (/src/simdrnn inside the root) with a clean environment; the first failure
# stops the run. Needs root on a Debian host; installs debootstrap if missing.
#
# The Debian mirror is the one this machine's apt sources name (deb822
# *.sources or one-line *.list), never a host written here. Between runs on one
# machine the pristine root is kept as a tarball and downloaded .deb files in an
# apt archive directory bind-mounted into the root (packages are still
# installed inside the root, by the project's scripts, every run).
#
# Environment:
#   SIMDRNN_CI_COMMIT   commit to test (default HEAD; uncommitted changes are not tested)
#   SIMDRNN_CI_CACHE    cache directory (default /var/cache/simdrnn-ci); runs
#                       that share it take turns (flock)
#   SIMDRNN_CI_ROOT_MAX_AGE_DAYS  rebuild the cached root when older (default 7)
#   SIMDRNN_CI_NO_CACHE=1  build the root and download every package afresh
#                       (nothing is read from or written to the cache)
#   SIMDRNN_CI_WORKDIR  where the root is unpacked (default /var/tmp)
#   SIMDRNN_CI_KEEP=1   keep the root (unmounted) afterwards, for inspection
#   SIMDRNN_CI_MIRROR, SIMDRNN_CI_SECURITY_MIRROR  override the mirrors read
#                       from the apt sources
set -euo pipefail

if [ $# -eq 0 ] || [ "$1" = -h ] || [ "$1" = --help ]; then
  awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"
  exit $(( $# == 0 ? 2 : 0 ))
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "fresh-root: needs root (debootstrap, chroot, mount)" >&2
  exit 2
fi

repo=$(cd "$(dirname "$0")/.." && pwd)
suite=bookworm  # Debian 12, the system the README's commands are promised on
cache=${SIMDRNN_CI_CACHE:-/var/cache/simdrnn-ci}
max_age_days=${SIMDRNN_CI_ROOT_MAX_AGE_DAYS:-7}
no_cache=${SIMDRNN_CI_NO_CACHE:-0}
t_begin=$(date +%s)
timings=()
log() { printf '[fresh-root] %s\n' "$*"; }

# Runs "$@" as one named stage and records how long it took. Not as
# `"$@" || rc=$?`: that would switch off set -e inside the stage's functions.
# A failing stage exits the script; cleanup() records it.
current_stage=
stage() {
  current_stage=$1
  stage_start=$(date +%s)
  shift
  printf '\n[fresh-root] === %s ===\n' "$current_stage"
  "$@"
  timings+=("$(printf '%6d s  %s' $(( $(date +%s) - stage_start )) "$current_stage")")
  current_stage=
}

print_timings() {
  printf '\n[fresh-root] timings:\n'
  local t
  for t in ${timings[@]+"${timings[@]}"}; do printf '  %s\n' "$t"; done
  printf '  %6d s  total\n' $(( $(date +%s) - t_begin ))
}

# ---- host tools ------------------------------------------------------------------
host_tools() {
  local need=()
  command -v debootstrap >/dev/null || need+=(debootstrap)
  command -v git >/dev/null || need+=(git)
  if [ ${#need[@]} -gt 0 ]; then
    log "installing on the host: ${need[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}"
  fi
}

# ---- the mirror, from this machine's apt sources -----------------------------------
# Prints "suite uri" for every enabled deb entry, from deb822 and one-line files.
apt_entries() {
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    awk 'BEGIN { RS = ""; FS = "\n" }
      {
        types = ""; uris = ""; suites = ""; enabled = "yes"
        for (i = 1; i <= NF; i++) {
          line = $i
          if (line ~ /^[ \t]*#/ || index(line, ":") == 0) continue
          key = tolower(substr(line, 1, index(line, ":") - 1))
          val = substr(line, index(line, ":") + 1)
          gsub(/^[ \t]+|[ \t]+$/, "", val)
          if (key == "types") types = val
          else if (key == "uris") uris = val
          else if (key == "suites") suites = val
          else if (key == "enabled") enabled = tolower(val)
        }
        if (enabled == "no" || (" " types " ") !~ / deb /) next
        split(uris, u, /[ \t]+/); n = split(suites, s, /[ \t]+/)
        for (j = 1; j <= n; j++) print s[j], u[1]
      }' "$f"
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    awk '$1 == "deb" {
        i = 2
        if ($i ~ /^\[/) { while ($i !~ /\]$/) i++; i++ }
        print $(i + 1), $i
      }' "$f"
  done
}

find_mirrors() {
  local entries
  entries=$(apt_entries)
  # The main archive: an entry for a plain suite (no -security, -updates,
  # -backports), preferably ours; security: an entry for a *-security suite.
  mirror=${SIMDRNN_CI_MIRROR:-$(awk -v s="$suite" '$1 == s { print $2; exit }' <<<"$entries")}
  [ -n "$mirror" ] || mirror=$(awk '$1 !~ /-/ { print $2; exit }' <<<"$entries")
  security=${SIMDRNN_CI_SECURITY_MIRROR:-$(awk '$1 ~ /-security$/ { print $2; exit }' <<<"$entries")}
  if [ -z "$mirror" ]; then
    echo "fresh-root: no Debian mirror in /etc/apt/sources.list{,.d/*}; set SIMDRNN_CI_MIRROR" >&2
    return 1
  fi
  mirror=${mirror%/}
  security=${security%/}
  log "mirror $mirror, security ${security:-(none)}, suite $suite"
}

# ---- the pristine root, cached as a tarball ----------------------------------------
make_tarball() {  # $1: the tarball to write
  local tmp
  tmp=$(mktemp -d "$work_base/simdrnn-ci-debootstrap.XXXXXX")
  debootstrap_dir=$tmp
  debootstrap --variant=minbase --include=ca-certificates "$suite" "$tmp/root" "$mirror" > "$tmp.log" 2>&1 || {
    tail -n 30 "$tmp.log" >&2
    return 1
  }
  # Caches only (debootstrap's .debs, the package lists): apt-get update and
  # the archive cache bring them back. Halves the tarball.
  rm -f "$tmp"/root/var/cache/apt/archives/*.deb "$tmp"/root/var/lib/apt/lists/*_Packages
  tar -C "$tmp/root" --numeric-owner -czf "$1.part" .
  mv "$1.part" "$1"
  rm -rf --one-file-system "$tmp" "$tmp.log"
  debootstrap_dir=
}

pristine_root() {
  local key
  key=$(printf '%s\n' "$suite" "$mirror" minbase ca-certificates | sha256sum | cut -c1-12)
  tarball=$cache/root-$suite-minbase-$key.tar.gz
  if [ "$no_cache" = 1 ]; then
    tarball=$work/root.tar.gz
    make_tarball "$tarball"
  elif [ -f "$tarball" ] && [ -z "$(find "$tarball" -mtime +"$max_age_days")" ]; then
    log "cached root $tarball ($(du -h "$tarball" | cut -f1))"
  else
    log "building $tarball (debootstrap --variant=minbase --include=ca-certificates)"
    rm -f "$cache"/root-"$suite"-minbase-*.tar.gz
    make_tarball "$tarball"
  fi
}

unpack_root() {
  mkdir "$root"
  tar -C "$root" --numeric-owner -xzf "$tarball"
  [ "$no_cache" = 1 ] && rm -f "$tarball"
  # The suite and its updates from the mirror, security from its own archive.
  {
    echo "deb $mirror $suite main"
    echo "deb $mirror $suite-updates main"
    [ -z "$security" ] || echo "deb $security $suite-security main"
  } > "$root/etc/apt/sources.list"
  rm -f "$root"/etc/apt/sources.list.d/*
  cp -L /etc/resolv.conf "$root/etc/resolv.conf"
  # Packages must not start services in a chroot.
  printf '#!/bin/sh\nexit 101\n' > "$root/usr/sbin/policy-rc.d"
  chmod 755 "$root/usr/sbin/policy-rc.d"
}

# ---- mounts, always undone ----------------------------------------------------------
mounted=()
mount_root() {
  mount -t proc proc "$root/proc"; mounted+=("$root/proc")
  # rslave: mounts made under the root's /dev and /sys never propagate back.
  mount --rbind /sys "$root/sys"; mount --make-rslave "$root/sys"; mounted+=("$root/sys")
  mount --rbind /dev "$root/dev"; mount --make-rslave "$root/dev"; mounted+=("$root/dev")
  [ -d "$root/dev/pts" ] && [ -d "$root/dev/shm" ] || { echo "fresh-root: no /dev/pts or /dev/shm" >&2; return 1; }
  if [ "$no_cache" != 1 ]; then
    mkdir -p "$cache/apt-archives/partial"
    mount --bind "$cache/apt-archives" "$root/var/cache/apt/archives"
    mounted+=("$root/var/cache/apt/archives")
  fi
}

cleanup() {
  local rc=$? pid i
  set +e
  [ -z "$current_stage" ] ||
    timings+=("$(printf '%6d s  %s  FAILED (exit %d)' $(( $(date +%s) - stage_start )) "$current_stage" "$rc")")
  if [ -n "${root:-}" ] && [ -d "$root" ]; then
    # Processes still running in the root (ours: nothing else runs there).
    for pid in $(ls /proc | grep -E '^[0-9]+$'); do
      [ "$(readlink "/proc/$pid/root" 2>/dev/null)" = "$root" ] && kill -KILL "$pid" 2>/dev/null
    done
    for (( i = ${#mounted[@]} - 1; i >= 0; i-- )); do
      umount -R "${mounted[i]}" 2>/dev/null || umount -R -l "${mounted[i]}"
    done
    if grep -q " $root/" /proc/self/mountinfo; then
      echo "fresh-root: mounts remain under $root; not removing it" >&2
      [ "$rc" -ne 0 ] || rc=1
    elif [ "${SIMDRNN_CI_KEEP:-0}" = 1 ]; then
      log "root kept (unmounted) at $root"
    else
      rm -rf --one-file-system "$work"
    fi
  fi
  [ -n "${debootstrap_dir:-}" ] && rm -rf --one-file-system "$debootstrap_dir" "$debootstrap_dir.log"
  print_timings
  if [ "$rc" -eq 0 ]; then log "PASS"; else log "FAIL (exit $rc)"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- the clean clone ----------------------------------------------------------------
clone() {
  local source
  source=$(git -C "$repo" rev-parse --path-format=absolute --git-common-dir)
  git clone --quiet --no-hardlinks --no-checkout "$source" "$root/src/simdrnn"
  git -C "$root/src/simdrnn" -c advice.detachedHead=false checkout --quiet --detach "$sha"
  git -C "$root/src/simdrnn" remote remove origin  # a host path, meaningless inside
  log "clone of $sha at /src/simdrnn ($(git -C "$root/src/simdrnn" log -1 --format='%h %s'))"
}

# Runs one command in the root's clone, with nothing from the host's environment.
in_root() {
  chroot "$root" /usr/bin/env -i HOME=/root LANG=C.UTF-8 TERM="${TERM:-dumb}" \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    /bin/bash -c "cd /src/simdrnn && $1"
}

# ---- main -------------------------------------------------------------------------------
sha=$(git -C "$repo" rev-parse --verify "${SIMDRNN_CI_COMMIT:-HEAD}^{commit}")
if [ "${SIMDRNN_CI_COMMIT:-HEAD}" = HEAD ] && [ -n "$(git -C "$repo" status --porcelain --untracked-files=no)" ]; then
  log "note: uncommitted changes in $repo are not tested (a clean clone of $sha is)"
fi
work_base=${SIMDRNN_CI_WORKDIR:-/var/tmp}
mkdir -p "$cache" "$work_base"
if [ "$no_cache" != 1 ]; then
  exec 9>"$cache/lock"
  if ! flock -n 9; then
    log "waiting for another run that uses $cache"
    flock 9
  fi
fi
work=$(mktemp -d "$work_base/simdrnn-ci.XXXXXX")
root=$work/root

stage "host tools" host_tools
stage "mirror from apt sources" find_mirrors
stage "pristine root" pristine_root
stage "unpack root" unpack_root
stage "mounts" mount_root
stage "clean clone" clone
for cmd in "$@"; do
  # Named by its first line: a multi-line check starts with a comment.
  stage "$(sed -n '/[^[:space:]]/ { s/^[[:space:]]*//; p; q }' <<<"$cmd" | cut -c1-80)" in_root "$cmd"
done
if [ "$no_cache" != 1 ]; then
  # Drop .deb files the mirror no longer has, so the archive cache stays small.
  stage "apt-get autoclean" in_root "apt-get autoclean -qq"
fi
