# syntax=docker/dockerfile:1
# One image for every role: the argument picks it (scripts/serve.sh):
#   docker run IMAGE gateway | subgraph crm|erp|billing|sync | worker | migrate
# Stages: build (all dependencies, tsc into dist/), deps (production dependencies only), runtime (non-root, tini).
ARG NODE_IMAGE=node:24-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY schema ./schema
COPY lib ./lib
COPY gateway ./gateway
COPY subgraphs ./subgraphs
COPY scripts ./scripts
# The in-repo vendor fakes: `npm start` with DEMO_STRIPE=on runs one (scripts/stripe-demo.ts).
COPY fakes ./fakes
# The ops console's sources: bundled into dist/console, which the gateway serves under /ops/.
COPY console ./console
RUN npm run build

FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund

FROM ${NODE_IMAGE} AS runtime
# tini as PID 1 forwards SIGTERM to node (which drains and exits) and reaps zombies.
RUN apt-get update && apt-get install -y --no-install-recommends tini && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production HOST=0.0.0.0
WORKDIR /app
# Files stay owned by root: the process (user node) can read the code but not change it.
COPY package.json ./
COPY scripts/serve.sh ./scripts/serve.sh
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
USER node
EXPOSE 4000 4001 4002 4003 4004 4005
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 CMD ["node", "dist/scripts/healthcheck.js"]
ENTRYPOINT ["/usr/bin/tini", "--", "/app/scripts/serve.sh"]
CMD ["gateway"]
