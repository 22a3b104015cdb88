#!/usr/bin/env bash
# Builds a tiny OCI image (one layer holding hello.txt) into an OCI layout directory, with
# nothing but tar, gzip and sha256sum, so the README's push works without pulling anything:
#   examples/tiny-image.sh /tmp/tiny && skopeo copy oci:/tmp/tiny:latest docker://…
set -euo pipefail
dir=${1:?usage: tiny-image.sh DIR [TAG]}
tag=${2:-latest}
mkdir -p "$dir/blobs/sha256"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "hello from regauth $(date -u +%FT%TZ)" >"$work/hello.txt"
tar -C "$work" --owner=0 --group=0 -cf "$work/layer.tar" hello.txt
diff_id=$(sha256sum "$work/layer.tar" | cut -d' ' -f1)
gzip -n -c "$work/layer.tar" >"$work/layer.tar.gz"

put() { # file media-type → prints a descriptor, stores the blob
  local digest size
  digest=$(sha256sum "$1" | cut -d' ' -f1)
  size=$(wc -c <"$1" | tr -d ' ')
  cp "$1" "$dir/blobs/sha256/$digest"
  printf '{"mediaType":"%s","digest":"sha256:%s","size":%s}' "$2" "$digest" "$size"
}

layer=$(put "$work/layer.tar.gz" application/vnd.oci.image.layer.v1.tar+gzip)
printf '{"architecture":"amd64","os":"linux","config":{},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' \
  "$diff_id" >"$work/config.json"
config=$(put "$work/config.json" application/vnd.oci.image.config.v1+json)
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":%s,"layers":[%s]}' \
  "$config" "$layer" >"$work/manifest.json"
manifest=$(put "$work/manifest.json" application/vnd.oci.image.manifest.v1+json)

echo '{"imageLayoutVersion":"1.0.0"}' >"$dir/oci-layout"
printf '{"schemaVersion":2,"manifests":[%s]}' \
  "${manifest%\}},\"annotations\":{\"org.opencontainers.image.ref.name\":\"$tag\"}}" >"$dir/index.json"
echo "oci:$dir:$tag"
