#!/bin/sh
# One-shot (temporalio/admin-tools), after the Temporal server is healthy: make sure the
# namespace exists. Re-running is harmless: an existing namespace is left as it is.
# Baton's search attributes are not registered here: `baton setup` (service baton-setup in
# docker-compose.yml) registers them from workflows/contracts/search_attributes.py.
#   usage: setup-namespace.sh   (no arguments)
# Environment: TEMPORAL_ADDRESS (temporal:7233), TEMPORAL_NAMESPACE (default),
# TEMPORAL_NAMESPACE_RETENTION (72h).
set -eu

ADDRESS="${TEMPORAL_ADDRESS:-temporal:7233}"
NAMESPACE="${TEMPORAL_NAMESPACE:-default}"
RETENTION="${TEMPORAL_NAMESPACE_RETENTION:-72h}"
HOST="${ADDRESS%:*}"
PORT="${ADDRESS##*:}"

if [ "$#" -gt 0 ]; then
    echo "usage: $0 (no arguments; search attributes are registered by \`baton setup\`)" >&2
    exit 2
fi

# Use the IPv4 address: the CLI may otherwise try an IPv6 address the server does not bind.
IP="$(getent ahosts "$HOST" | awk '/STREAM/ && $1 !~ /:/ { print $1; exit }')"
if [ -n "$IP" ]; then
    ADDRESS="$IP:$PORT"
fi

retry() {
    # retry ATTEMPTS DESCRIPTION COMMAND...
    attempts="$1"
    what="$2"
    shift 2
    n=0
    until "$@"; do
        n=$((n + 1))
        if [ "$n" -ge "$attempts" ]; then
            echo "gave up: $what" >&2
            return 1
        fi
        echo "waiting: $what ($n/$attempts)"
        sleep "${RETRY_DELAY:-2}"
    done
}

retry 60 "Temporal at $ADDRESS to be healthy" \
    temporal operator cluster health --address "$ADDRESS"

namespace_exists() {
    temporal operator namespace describe --namespace "$NAMESPACE" --address "$ADDRESS" \
        >/dev/null 2>&1
}
create_namespace() {
    namespace_exists || temporal operator namespace create --namespace "$NAMESPACE" \
        --retention "$RETENTION" --address "$ADDRESS" || namespace_exists
}
retry 30 "namespace $NAMESPACE to be created" create_namespace
echo "namespace $NAMESPACE is there"
