#!/bin/sh
# pushlab as a server endpoint of the QUIC interop runner
# (https://github.com/quic-interop/quic-interop-runner): the runner sets ROLE
# and TESTCASE, mounts the files to serve at /www and the certificate at
# /certs (cert.pem, priv.key), and expects the server on port 443. An
# unsupported test case exits 127, as the runner's contract asks.
#
# Without Docker, point it at local directories:
#   ROLE=server TESTCASE=retry WWW=/tmp/www CERTS=/tmp/certs PORT=4433 \
#     PUSHLAB=target/release/pushlab interop/runner/run_endpoint.sh
set -eu

ROLE=${ROLE:-}
TESTCASE=${TESTCASE:-}
WWW=${WWW:-/www}
CERTS=${CERTS:-/certs}
PORT=${PORT:-443}
ADDR=${ADDR:-[::]}
PUSHLAB=${PUSHLAB:-pushlab}

# The runner's endpoint image sets up routing first, when present.
if [ -x /setup.sh ]; then /setup.sh; fi

if [ "$ROLE" != "server" ]; then
    echo "pushlab implements the server role only (ROLE=$ROLE)" >&2
    exit 127
fi

ARGS="--site $WWW --cert $CERTS/cert.pem --key $CERTS/priv.key --addr $ADDR:$PORT --no-h2 --push-policy none"
if [ -n "${QLOGDIR:-}" ]; then
    ARGS="$ARGS --qlog-dir $QLOGDIR"
fi

case "$TESTCASE" in
    # Served as they are: hq-interop and h3 are both offered, migration is
    # on, ECN is what quinn does by default.
    handshake|transfer|multiplexing|longrtt|blackhole|handshakeloss|transferloss|\
    handshakecorruption|transfercorruption|goodput|crosstraffic|ipv6|http3|ecn|\
    keyupdate|rebind-port|rebind-addr|amplificationlimit|resumption) ;;
    chacha20) ARGS="$ARGS --chacha20-only" ;;
    retry) ARGS="$ARGS --retry" ;;
    zerortt) ARGS="$ARGS --0rtt" ;;
    # The server advertises PREFERRED_ADDRESS (an address of this host; the
    # server listens on the unspecified address so that its one socket
    # receives there too). Clients move there, but quinn 0.11 keeps sending
    # from the connection's original address and never probes from the
    # preferred one (RFC 9000 section 9.6.2), so the runner's check of a new
    # server path fails: see proto-notes/quic-transport.md. Without
    # PREFERRED_ADDRESS (the runner's containers have one address per
    # family) it is not offered.
    connectionmigration)
        if [ -z "${PREFERRED_ADDRESS:-}" ]; then
            echo "connectionmigration: set PREFERRED_ADDRESS to a second address of this host" >&2
            exit 127
        fi
        ARGS="$ARGS --preferred-address $PREFERRED_ADDRESS"
        ;;
    # v2 needs QUIC version 2 (RFC 9369) and compatible version negotiation
    # (RFC 9368): quinn-proto 0.11 supports neither (its versions are v1 and
    # drafts 29-34; quinn-rs/quinn#2740 tracks v2, #1235 version
    # negotiation).
    *)
        echo "pushlab does not support test case \"$TESTCASE\"" >&2
        exit 127
        ;;
esac

# shellcheck disable=SC2086
exec $PUSHLAB serve $ARGS
