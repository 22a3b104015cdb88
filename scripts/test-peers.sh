#!/usr/bin/env bash
# Makes sure the real programs the end-to-end tests start (the "peers") are installed, installing
# the missing ones from the distribution's packages (Debian/Ubuntu, apt-get). Prints one line per
# peer with its version. Exits non-zero, saying why, when a peer is missing and cannot be installed:
# the tests never skip a peer silently.
#
# Installing slapd, docker-registry, haproxy, redis-server or prometheus may start a system service
# on its default port (389, 5000, none, 6379, 9090). That does not matter: the tests start their own instances on free ports.
# docker.io (the engine and its client) and mmdebstrap serve test/e2e/containers.test.ts, which
# uses the engine DOCKER_HOST points to, or starts a private dockerd of its own (as root).
set -euo pipefail

# Debian keeps daemons (slapd, haproxy) in /usr/sbin, which is not on a normal user's PATH.
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

# command:package
PEERS=(
  docker-registry:docker-registry
  skopeo:skopeo
  slapd:slapd
  ldapadd:ldap-utils
  ldapsearch:ldap-utils
  haproxy:haproxy
  redis-server:redis-server
  redis-cli:redis-tools
  chromium:chromium
  openssl:openssl
  docker-compose:docker-compose
  docker:docker.io
  dockerd:docker.io
  mmdebstrap:mmdebstrap
  # A terminal for the prompts of `regauth hash` and `check --password-stdin` (test/e2e/cli-tty.test.ts).
  script:bsdutils
  # Scrapes the metrics listener and stores what it reads (test/e2e/metrics-prometheus.test.ts).
  prometheus:prometheus
  # Runs the CLI as root without the capabilities that read through any mode
  # (test/unit/cli-validate-unreadable-key.test.ts).
  setpriv:util-linux
)

die() {
  echo "test-peers: error: $*" >&2
  exit 1
}

no_root() {
  echo "test-peers: '$*' needs root, and sudo is not installed" >&2
  return 1
}

# Prefix for commands that need root. sudo -n fails instead of waiting for a password.
if [ "$(id -u)" -eq 0 ]; then
  AS_ROOT=()
elif command -v sudo >/dev/null 2>&1; then
  AS_ROOT=(sudo -n)
else
  AS_ROOT=(no_root)
fi

# The packages whose command is missing, one per line, without duplicates.
missing_packages() {
  local peer
  for peer in "${PEERS[@]}"; do
    command -v "${peer%%:*}" >/dev/null 2>&1 || echo "${peer#*:}"
  done | sort -u
}

mapfile -t missing < <(missing_packages)
if [ ${#missing[@]} -gt 0 ]; then
  command -v apt-get >/dev/null 2>&1 ||
    die "missing packages: ${missing[*]}; there is no apt-get here, so install them by hand"
  echo "test-peers: installing ${missing[*]}"
  # noninteractive: debconf takes the defaults (slapd would otherwise ask for an admin password);
  # confdef/confold: keep existing config files without asking.
  "${AS_ROOT[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q ||
    die "apt-get update failed (see above; it needs root or passwordless sudo, and the network)"
  "${AS_ROOT[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "${missing[@]}" ||
    die "apt-get install ${missing[*]} failed (on Ubuntu, 'chromium' is a snap: install it so that 'chromium' is on PATH)"
  mapfile -t missing < <(missing_packages)
  [ ${#missing[@]} -eq 0 ] || die "still missing after apt-get install: ${missing[*]}"
fi

# Ubuntu's slapd package loads an enforcing AppArmor profile for /usr/sbin/slapd, which only lets
# slapd use /etc/ldap, /var/lib/ldap and the like: a test slapd with its files in a temp dir is
# denied. Unloading the profile lasts until the next reboot or AppArmor reload.
slapd_confined() {
  [ -f /etc/apparmor.d/usr.sbin.slapd ] || return 1
  [ "$(cat /sys/module/apparmor/parameters/enabled 2>/dev/null)" = Y ] || return 1
  local loaded
  if loaded=$("${AS_ROOT[@]}" cat /sys/kernel/security/apparmor/profiles 2>/dev/null); then
    grep -Eq '(^|/)slapd \(enforce\)$' <<<"$loaded"
  else
    # Cannot list the loaded profiles: assume the packaged default unless it was disabled.
    [ ! -e /etc/apparmor.d/disable/usr.sbin.slapd ]
  fi
}
if slapd_confined; then
  if [ "${CI:-}" = true ] || [ "${REGAUTH_UNLOAD_SLAPD_APPARMOR:-}" = 1 ]; then
    echo "test-peers: unloading the AppArmor profile of slapd so the test directory can use temp dirs"
    "${AS_ROOT[@]}" apparmor_parser -R /etc/apparmor.d/usr.sbin.slapd || die "could not unload the slapd AppArmor profile"
  else
    die "AppArmor confines slapd to /etc/ldap and /var/lib/ldap, so the LDAP tests cannot run.
  Unload the profile until the next reboot:  sudo apparmor_parser -R /etc/apparmor.d/usr.sbin.slapd
  or let this script do it:                REGAUTH_UNLOAD_SLAPD_APPARMOR=1 bash scripts/test-peers.sh"
  fi
fi

# Prints the version output of a peer.
version_of() {
  case $1 in
    # OpenLDAP tools print "@(#) $OpenLDAP: slapd 2.5.13+dfsg-5 (date) $" on stderr.
    slapd | ldapadd | ldapsearch) "$1" -VV 2>&1 ;;
    haproxy) haproxy -v ;;
    openssl) openssl version ;;
    # Debian's chromium wrapper script prints shell noise on stderr; the version is on stdout.
    chromium) chromium --version 2>/dev/null ;;
    *) "$1" --version ;;
  esac
}

for peer in "${PEERS[@]}"; do
  cmd=${peer%%:*}
  out=$(version_of "$cmd" 2>&1) || die "'$cmd' is installed but does not run: $out"
  case $cmd in
    slapd | ldapadd | ldapsearch) version=$(grep -m1 -o 'OpenLDAP: [^ ]* [^ ]*' <<<"$out" || true) ;;
    *) version=${out%%$'\n'*} ;;
  esac
  [ -n "$version" ] || die "'$cmd' printed no version: $out"
  printf '%-16s %-28s %s\n' "$cmd" "$(command -v "$cmd")" "$version"
done

# skopeo wants a signature policy; the tests pass --insecure-policy, so a missing one is fine.
if [ -f /etc/containers/policy.json ]; then
  echo "skopeo policy    /etc/containers/policy.json present (tests use --insecure-policy anyway)"
else
  echo "skopeo policy    /etc/containers/policy.json absent (fine: tests use --insecure-policy)"
fi
