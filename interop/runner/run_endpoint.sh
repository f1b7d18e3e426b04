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
    # connectionmigration needs a preferred_address, v2 needs QUIC v2
    # (RFC 9369): quinn 0.11 has neither.
    *)
        echo "pushlab does not support test case \"$TESTCASE\"" >&2
        exit 127
        ;;
esac

# shellcheck disable=SC2086
exec $PUSHLAB serve $ARGS
