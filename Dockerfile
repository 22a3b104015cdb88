# regauth's container image: exactly the npm package (the files `npm pack` puts in it, see
# package.json "files"), with production dependencies installed from the lockfile. Nothing is
# fetched at run time. No `# syntax=` line: the builder's own Dockerfile frontend is enough, so
# BuildKit does not fetch one from a registry.
#
#   docker build -t regauth .
#   docker run --init --stop-timeout 20 -v "$PWD/config:/config:ro" -p 127.0.0.1:5001:5001 regauth
#
# (the config's directory, not the file alone, so that a save by rename reaches the reload;
# longer than regauth's 10 s grace for requests in flight before docker kills it)
#
# Tested on a Docker engine by test/e2e/containers.test.ts (this file built as is, the container
# run alone and in compose/compose.yml; engine versions in docs/deployment.md), and without one by
# test/e2e/deploy.test.ts (the same tree rebuilt with `npm pack` and
# `npm ci --omit=dev --ignore-scripts`, run behind HAProxy).
#
# For a reproducible build, pin the base image by digest:
#   docker build --build-arg NODE_IMAGE=node:26-slim@sha256:<digest> -t regauth .

# The current Node.js LTS line.
ARG NODE_IMAGE=node:26-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /src
# Dependencies first (a layer that changes only with the lockfile). --ignore-scripts: the
# `prepare` script would build before the sources are copied in.
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json config.example.yml ./
COPY src ./src
COPY examples ./examples
# Build, then pack and unpack: the runtime stage gets the package's files and nothing else
# (no sources, no tests). The lockfile is never part of a package; it comes along for npm ci.
RUN npm run build \
  && npm pack --ignore-scripts --pack-destination /tmp \
  && mkdir /pkg \
  && tar -xzf /tmp/regauth-*.tgz -C /pkg --strip-components=1 \
  && cp package-lock.json /pkg/

FROM ${NODE_IMAGE}
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /pkg ./
# Production dependencies only, exactly as locked. --ignore-scripts: `prepare` runs tsc, which is
# a dev dependency and not needed: dist/ is already built.
# /app/data: where `regauth serve` creates a development signing key when the config names none;
# the only directory the non-root user may write.
# npm's cache, its debug logs (which `npm cache clean` keeps) and node's compile cache for npm go
# with the layer: nothing of the build stays in the image.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
  && rm -rf /root/.npm /tmp/node-compile-cache \
  && chmod 0755 dist/cli/main.js \
  && ln -s /app/dist/cli/main.js /usr/local/bin/regauth \
  && mkdir -p /app/data /config \
  && chown node:node /app/data
# The node image's unprivileged user (uid 1000).
USER node
EXPOSE 5001
# Liveness through the server's own /healthz. The image has no curl: Node's http does it.
# Override the URL when server.addr or server.path_prefix differ from the defaults, and make it
# https:// when regauth serves TLS itself (server.certificate): its certificate is not checked
# here, since the probe never leaves the container and the certificate names the public host.
# It gives up after 4 s in all (http's own timeout bounds only a silent socket).
ENV REGAUTH_HEALTHCHECK_URL=http://127.0.0.1:5001/healthz
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD ["node", "-e", "setTimeout(() => process.exit(1), 4000).unref(); const u = new URL(process.env.REGAUTH_HEALTHCHECK_URL); require(u.protocol === 'https:' ? 'node:https' : 'node:http').get(u, { timeout: 4000, rejectUnauthorized: false }, (r) => process.exit(r.statusCode >= 200 && r.statusCode < 300 ? 0 : 1)).on('timeout', () => process.exit(1)).on('error', () => process.exit(1))"]
# --max-semi-space-size=8 caps V8's young generation at 16 MB (its default grows to 32 MB under
# load): 37 to 58 MB less peak memory for the same CPU per token. --heap-growing-percent=100 lets
# the old generation grow to twice what the last full collection left alive before the next one
# (V8 lets a busy process grow it up to fourfold): about 50 MB less at the peak, the same CPU per
# token (docs/performance.md "Memory under steady load"). --v8-pool-size=2 gives V8 two helper
# threads for its collections instead of four: regauth's heap is small, and on a host of two cores
# four helpers competed with the event loop and the signing threads (docs/performance.md "V8's
# helper threads"). Node, not the `regauth` link, so the flags need no `env -S` (BusyBox's env has
# none). npm run bench reads the flags from this line (test/helpers/image.ts).
ENTRYPOINT ["node", "--max-semi-space-size=8", "--heap-growing-percent=100", "--v8-pool-size=2", "/app/dist/cli/main.js"]
CMD ["serve", "-c", "/config/config.yml"]
