// What a procedure's runs leave beside a stack cluster and findLeftovers reports: saved
// `<container>-pre-<label>` containers, clone backups `<db>_bk_<label>` and databases set aside by
// restores `<db>_rb_<label>` (the maintenance switch is reset with the load balancer). A reset
// removes them too, so that a test whose run was terminated or abandoned cannot make every later
// procedure on that cluster refuse with LeftoversFound.
import type Docker from 'dockerode';
import type { Client } from 'pg';
import { isNotFound } from '../../src/adapters/docker/errors';
import { containersNamedWithPrefix } from '../../src/adapters/docker/container-list';
import { databasesDerivedFrom } from '../../src/adapters/postgres/derived-databases';
import { savedContainerName } from '../../src/activities/nodes/image-replacement';

/** Removes every container saved from one of `containers` by an image replacement, running or not. */
export async function removeSavedContainers(docker: Docker, containers: string[], log: (line: string) => void): Promise<void> {
  for (const container of containers) {
    for (const saved of await containersNamedWithPrefix(docker, savedContainerName(container, ''))) {
      await docker.getContainer(saved.id).remove({ force: true, v: false }).catch((err: unknown) => {
        if (!isNotFound(err)) throw err;
      });
      log(`${saved.name} removed (saved by an image replacement)`);
    }
  }
}

/** Drops every clone backup and set-aside database of `database`, ending their sessions (an admin connection). */
export async function dropDerivedDatabases(admin: Client, database: string, log: (line: string) => void): Promise<void> {
  for (const infix of ['bk', 'rb']) {
    for (const { name } of await databasesDerivedFrom(admin, database, infix)) {
      await admin.query(`DROP DATABASE IF EXISTS ${admin.escapeIdentifier(name)} WITH (FORCE)`);
      log(`database ${name} dropped`);
    }
  }
}
