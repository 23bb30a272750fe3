# The worker image for docker-compose.yml.
# NODE_IMAGE: any image with node 20+, npm and /bin/sh. Machines that cannot pull use a base made
# from the host's own node (scripts/stack/node-base-image.ts; test/integration/worker-image.test.ts).
ARG NODE_IMAGE=node:20-bookworm-slim
FROM ${NODE_IMAGE}
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
# The same image runs the codec server (docker-compose.yml's codec-server: another command).
COPY scripts/codec-server.ts ./scripts/
# Runs as root: it drives the host's Docker Engine through the mounted socket.
CMD ["node_modules/.bin/tsx", "src/worker/main.ts"]
