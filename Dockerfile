# Production image: the compiled service on Node 22, talking to an external PostgreSQL.
FROM node:22-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build && npm prune --omit=dev

FROM node:22-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/public ./public
COPY package.json ./
USER node
EXPOSE 3000
HEALTHCHECK --interval=10s --timeout=3s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:3000/api/health/ready').then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))"
# The V8 heap flags `npm run start:prod` passes (see the README's performance section).
CMD ["node", "--max-semi-space-size=64", "--no-memory-reducer", "--heap-growing-percent=100", "--no-allocation-site-pretenuring", "dist/src/main.js"]
