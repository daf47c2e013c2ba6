#!/bin/bash
# The images' HEALTHCHECK: GET /healthz on the loopback port named by a variable, with bash's
# /dev/tcp (the slim runtime image has neither curl nor wget). Passing the variable's name, not
# the port, keeps the check right when the port is overridden at run time.
#
# usage: printflow-healthcheck PORT_VARIABLE [PATH]    e.g. printflow-healthcheck SHOP_HTTP_PORT
# Exit 0 when the answer's status line is 200, 1 otherwise.

set -euo pipefail

var=${1:?usage: printflow-healthcheck PORT_VARIABLE [PATH]}
port=${!var:?$var is not set}
path=${2:-/healthz}
[[ "$port" =~ ^[0-9]+$ ]] || exit 1
exec 3<>"/dev/tcp/127.0.0.1/$port" || exit 1
printf 'GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' "$path" >&3
IFS= read -r -t 3 status <&3 || exit 1
[[ "$status" == "HTTP/1."[01]" 200"* ]]
