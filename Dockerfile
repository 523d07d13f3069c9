# kgate's image: Node 24 runs the TypeScript sources directly (type stripping), so the image is the sources plus
# the production dependencies; no build step, no compiler, no dev tools.
FROM node:24-bookworm-slim
WORKDIR /opt/kgate
ENV NODE_ENV=production
COPY package.json package-lock.json ./
# The `node` devDependency (a Node binary for machines without Node 24) is not needed: the base image is Node 24.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY src ./src
COPY openapi ./openapi
# The same command line as `kgate` itself (src/cli/main.ts's first line).
ENTRYPOINT ["node", "src/cli/main.ts"]
CMD ["serve", "--config", "/etc/kgate/gateway.yaml"]
