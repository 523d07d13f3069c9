# kgate's image: Node 24 runs the TypeScript sources directly (type stripping), so the image is the sources plus
# the production dependencies; no build step, no compiler, no dev tools.
FROM node:24-bookworm-slim
WORKDIR /opt/kgate
ENV NODE_ENV=production
COPY package.json package-lock.json ./
# The `node` devDependency (a Node binary for machines without Node 24) is not needed: the base image is Node 24.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
# jemalloc instead of glibc's allocator: glibc keeps the native memory of closed connections (TLS state, sockets)
# in its heap for good, jemalloc hands it back to the kernel within a second from a background thread. With it,
# the gateway's RSS comes back to where it was after thousands of watches close (bench/METHODOLOGY.md), at no
# measurable cost per request.
RUN apt-get update && apt-get install -y --no-install-recommends libjemalloc2 && rm -rf /var/lib/apt/lists/* \
  && ln -s "/usr/lib/$(uname -m)-linux-gnu/libjemalloc.so.2" /usr/local/lib/libjemalloc.so.2
ENV LD_PRELOAD=/usr/local/lib/libjemalloc.so.2 MALLOC_CONF=background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0
COPY src ./src
COPY openapi ./openapi
# The same command line as `kgate` itself (src/cli/main.ts's first line).
ENTRYPOINT ["node", "src/cli/main.ts"]
CMD ["serve", "--config", "/etc/kgate/gateway.yaml"]
