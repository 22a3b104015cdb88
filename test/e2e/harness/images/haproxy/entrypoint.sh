#!/bin/sh
# The official haproxy image's entrypoint: flags alone mean haproxy, run in the foreground
# (-db) in master-worker mode (-W).
set -e
if [ "${1#-}" != "$1" ]; then
  set -- haproxy "$@"
fi
if [ "$1" = haproxy ]; then
  shift
  set -- haproxy -W -db "$@"
fi
exec "$@"
