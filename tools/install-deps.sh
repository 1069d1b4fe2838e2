#!/bin/sh
# Installs, idempotently, every Debian package loadscope needs to build, run, test and
# benchmark, then makes sure tracefs is mounted (the BPF tracer attaches to tracepoints).
# Safe to run again: it only calls apt when a package is missing.
set -eu

BUILD="make gcc clang llvm pkg-config bpftool libbpf-dev libelf-dev zlib1g-dev libdw-dev
       libcurl4-openssl-dev libsqlite3-dev libyaml-dev libcjson-dev libjs-chart.js
       libcriterion-dev libclang-rt-14-dev"
RUN="iproute2 procps"
TEST="nginx-light wrk python3-locust gunicorn python3-flask python3-numpy redis-server
      python3-redis chromium sqlite3 curl util-linux libxml2-dev cmark-gfm"

missing=""
for p in $BUILD $RUN $TEST; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
        missing="$missing $p"
done

if [ -n "$missing" ]; then
    if [ "$(id -u)" != 0 ]; then
        echo "install-deps: missing packages:$missing (run as root to install them)" >&2
        exit 1
    fi
    echo "install-deps: installing$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # nginx and redis must not start as system services: tests start their own on loopback.
    [ -e /usr/sbin/policy-rc.d ] && had_policy=1 || had_policy=0
    [ "$had_policy" = 1 ] || { printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d; }
    apt-get install -y -qq --no-install-recommends $missing >/dev/null
    [ "$had_policy" = 1 ] || rm -f /usr/sbin/policy-rc.d
fi

# tracefs is not mounted on a fresh boot; the tracer needs it for tracepoint ids.
if [ ! -e /sys/kernel/tracing/events ] && [ "$(id -u)" = 0 ]; then
    mount -t tracefs nodev /sys/kernel/tracing 2>/dev/null ||
        echo "install-deps: warning: could not mount tracefs on /sys/kernel/tracing" >&2
fi
exit 0
