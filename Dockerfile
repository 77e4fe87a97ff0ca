# syntax=docker/dockerfile:1
#
# One image for every hero-onboarding process (see docker-compose.yml). Everything runs from
# the TypeScript sources under tsx (a production dependency of the cli workspace); only the web
# UI is built (vite, SvelteKit adapter-node output in web/build).
#
#   api (default)   node --import tsx api/src/main.ts
#   migrate         node --import tsx scripts/migrate.ts
#   worker          node --import tsx workers/src/main.ts <auto-release|aggregate|outbox|reconcile>
#   web             node --import tsx web/server/main.ts
#   hero-admin      node cli/bin/hero-admin.mjs <command>
#
# Build: docker build -t hero-onboarding .   (or `docker compose build`)

# --- build: every dependency (dev included), then the web UI -------------------------------
FROM node:24-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
COPY api/package.json api/
COPY workers/package.json workers/
COPY web/package.json web/
COPY cli/package.json cli/
COPY core/package.json core/
COPY graphql/package.json graphql/
RUN npm ci --no-audit --no-fund
COPY tsconfig.base.json ./
COPY graphql/ graphql/
COPY web/ web/
RUN npm run build -w web

# --- prod-deps: production dependencies only ------------------------------------------------
FROM node:24-slim AS prod-deps
WORKDIR /app
COPY package.json package-lock.json ./
COPY api/package.json api/
COPY workers/package.json workers/
COPY web/package.json web/
COPY cli/package.json cli/
COPY core/package.json core/
COPY graphql/package.json graphql/
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

# --- runtime ----------------------------------------------------------------------------------
FROM node:24-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
# package.json files and node_modules (root and any workspace's own), owned by root: the
# processes read them and never write there.
COPY --from=prod-deps /app/ ./
COPY tsconfig.base.json ./
# The shared core (@hero/core): domain modules, entities, migrations, the process lifecycle.
COPY core/ core/
# The typed GraphQL operations (@hero/graphql) the web and hero-admin send.
COPY graphql/ graphql/
COPY api/tsconfig.json api/
COPY api/src/ api/src/
COPY workers/tsconfig.json workers/
COPY workers/src/ workers/src/
COPY cli/tsconfig.json cli/
COPY cli/bin/ cli/bin/
COPY cli/src/ cli/src/
COPY scripts/tsconfig.json scripts/migrate.ts scripts/config.ts scripts/
# The web process: its server, the one source module it imports (its configuration) and the build.
COPY web/server/ web/server/
COPY web/src/lib/server/config.ts web/src/lib/server/
COPY --from=build /app/web/build/ web/build/
# Example pool manifest and plan catalog (PLANS_FILE=/app/examples/plans.json to try plans).
COPY examples/ examples/
# The image's unprivileged user (uid 1000); tsx keeps its transform cache under /tmp.
USER node
EXPOSE 4000 3000 9464
CMD ["node", "--import", "tsx", "api/src/main.ts"]
