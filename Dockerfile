# The worker image for docker-compose.yml.
FROM node:20-bookworm-slim
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
# Runs as root: it drives the host's Docker Engine through the mounted socket.
CMD ["node_modules/.bin/tsx", "src/worker/main.ts"]
