#!/bin/sh
# One-shot (temporalio/admin-tools), after the Temporal server is healthy: make sure the
# namespace exists and Baton's custom search attributes are registered in it.
#   usage: setup-namespace.sh Name=Type [Name=Type ...]
# The Name=Type list lives in docker-compose.yml (service temporal-setup) and a test keeps it
# equal to workflows/contracts/search_attributes.py. Re-running is harmless: an attribute that
# already exists is left as it is.
# Environment: TEMPORAL_ADDRESS (temporal:7233), TEMPORAL_NAMESPACE (default),
# TEMPORAL_NAMESPACE_RETENTION (72h).
set -eu

ADDRESS="${TEMPORAL_ADDRESS:-temporal:7233}"
NAMESPACE="${TEMPORAL_NAMESPACE:-default}"
RETENTION="${TEMPORAL_NAMESPACE_RETENTION:-72h}"
HOST="${ADDRESS%:*}"
PORT="${ADDRESS##*:}"

for pair in "$@"; do
    name="${pair%%=*}"
    type="${pair#*=}"
    if [ -z "$name" ] || [ "$name" = "$pair" ] || [ -z "$type" ]; then
        echo "bad argument '$pair': expected Name=Type" >&2
        exit 2
    fi
done

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

register() {
    # register NAME TYPE: succeeds when created now or registered before.
    if out="$(temporal operator search-attribute create --namespace "$NAMESPACE" \
        --name "$1" --type "$2" --address "$ADDRESS" 2>&1)"; then
        echo "registered search attribute $1 ($2)"
        return 0
    fi
    case "$out" in
        *"already exists"* | *"already registered"*)
            echo "search attribute $1 already registered"
            return 0
            ;;
    esac
    echo "$out" >&2
    return 1
}

for pair in "$@"; do
    # A namespace created a moment ago may not be visible to every service yet: retry.
    retry 30 "search attribute ${pair%%=*}" register "${pair%%=*}" "${pair#*=}"
done

# Wait until the server lists every attribute, so workers never upsert an unknown one.
all_listed() {
    listed="$(temporal operator search-attribute list --namespace "$NAMESPACE" \
        --address "$ADDRESS" 2>/dev/null)" || return 1
    for pair in "$@"; do
        printf '%s\n' "$listed" | grep -qw -- "${pair%%=*}" || return 1
    done
}
retry 30 "search attributes to be listed" all_listed "$@"
echo "namespace $NAMESPACE is ready with $# Baton search attributes"
