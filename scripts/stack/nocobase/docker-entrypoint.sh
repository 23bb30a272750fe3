#!/bin/sh
# The official nocobase/nocobase entrypoint of the 2.2 releases, minus nginx (the cluster's load
# balancer is in front) and the client-asset extraction: every start runs postinstall, checks the
# database, then `yarn start --quickstart`, which installs an empty database and runs NocoBase's
# upgrade over an installed one (on every start, unless SKIP_SAME_VERSION_UPGRADE=true and the
# recorded version equals the code's). Not exec'd, as in the official image: /bin/sh stays PID 1
# and ignores SIGTERM, so `docker stop` ends in SIGKILL after its grace — real behaviour the
# maintenance procedures must cope with.
set -e

cd /app/nocobase
yarn nocobase postinstall
yarn nocobase db:auth
yarn nocobase generate-instance-id

if [ -d /app/nocobase/storage/scripts ]; then
  for f in /app/nocobase/storage/scripts/*.sh; do
    [ -e "$f" ] || continue
    echo "Running $f"
    sh "$f"
  done
fi

yarn start --quickstart
