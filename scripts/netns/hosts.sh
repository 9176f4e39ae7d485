#!/bin/sh
# Builds "hosts" on this machine as Linux network namespaces joined by veth links to one bridge,
# so that mpirun can run across them as across machines: TCP only, a hostfile of the hosts'
# addresses, and scripts/netns/rsh as the remote launcher (docs/multi-host.md).
#
#   hosts.sh up N        hosts dph-h1..dph-hN at 10.231.0.1..N, the bridge (this machine, where
#                        mpirun runs) at 10.231.0.254
#   hosts.sh down        removes them (also what is left of an interrupted run)
#   hosts.sh cut I       takes host I's link down (the host is gone from the network)
#   hosts.sh restore I   brings it back
#   hosts.sh check       exit 0 when namespaces can be made here (root, iproute2), else the reason
# Needs root and iproute2.
set -eu
PREFIX=${DPH_NETNS_PREFIX:-dph-h}
BRIDGE=${DPH_NETNS_BRIDGE:-dphbr0}
NET=${DPH_NETNS_NET:-10.231.0}

fail() { echo "error: $*" >&2; exit 1; }

case "${1:-}" in
check)
    command -v ip >/dev/null 2>&1 || fail "ip (iproute2) is not installed"
    [ "$(id -u)" = 0 ] || fail "network namespaces need root"
    probe="${PREFIX}probe$$"
    ip netns add "$probe" 2>/dev/null || fail "cannot create a network namespace here (ip netns add failed)"
    ip netns del "$probe"
    ;;
up)
    n=${2:?hosts.sh up N}
    "$0" down >/dev/null 2>&1 || true
    ip link add "$BRIDGE" type bridge
    ip addr add "$NET.254/24" dev "$BRIDGE"
    ip link set "$BRIDGE" up
    i=1
    while [ "$i" -le "$n" ]; do
        ns="$PREFIX$i"
        ip netns add "$ns"
        ip link add "$ns-a" type veth peer name "$ns-b"
        ip link set "$ns-b" netns "$ns"
        ip link set "$ns-a" master "$BRIDGE"
        ip link set "$ns-a" up
        ip netns exec "$ns" ip link set lo up
        ip netns exec "$ns" ip link set "$ns-b" name eth0
        ip netns exec "$ns" ip addr add "$NET.$i/24" dev eth0
        ip netns exec "$ns" ip link set eth0 up
        i=$((i + 1))
    done
    ;;
down)
    for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^$PREFIX" || true); do
        ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
        ip netns del "$ns" 2>/dev/null || true
    done
    ip link del "$BRIDGE" 2>/dev/null || true
    # A namespace (and its veth) lives on until its last process is gone: wait for the links.
    tries=0
    while ip -o link show 2>/dev/null | grep -q " $PREFIX[0-9]*-a[@:]" && [ "$tries" -lt 50 ]; do
        sleep 0.1
        tries=$((tries + 1))
    done
    for link in $(ip -o link show 2>/dev/null | awk -F': ' '{print $2}' | cut -d@ -f1 | grep "^$PREFIX[0-9]*-a$" || true); do
        ip link del "$link" 2>/dev/null || true
    done
    ;;
cut)
    ip link set "$PREFIX${2:?hosts.sh cut I}-a" down
    ;;
restore)
    ip link set "$PREFIX${2:?hosts.sh restore I}-a" up
    ;;
*)
    fail "usage: hosts.sh up N | down | cut I | restore I | check"
    ;;
esac
