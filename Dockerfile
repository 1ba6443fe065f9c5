# syntax=docker/dockerfile:1
# The production image. Its steps are the ones test/foundation/production-build.test.ts runs in CI:
# install, compile, drop the devDependencies, then copy exactly the runtime files below (the test
# reads this file's runtime COPY lines and assembles the same tree). Keep the two in step.

# --- build: everything installed, TypeScript compiled to dist/, then devDependencies pruned ---
FROM node:20-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY webhooks ./webhooks
RUN npm run build && npm prune --omit=dev --no-audit --no-fund

# --- runtime: compiled code, production dependencies, templates; no compiler, no tsx ---
FROM node:20-slim
ENV NODE_ENV=production HOST=0.0.0.0 PORT=3000
WORKDIR /app
COPY --from=build /app/package.json /app/package-lock.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY scripts/run.mjs ./scripts/run.mjs
COPY templates ./templates
# The drive verifier: served to browsers by the verify page and runnable with `npx verify-drive`.
COPY bin ./bin
# The image's own user (uid 1000): the process cannot write to the application files.
USER node
EXPOSE 3000
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/readyz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# node directly (not npm) so SIGTERM reaches the server and its graceful shutdown.
CMD ["node", "--enable-source-maps", "dist/src/server.js"]
