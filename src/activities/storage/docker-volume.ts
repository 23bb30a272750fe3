import { ApplicationFailure } from '@temporalio/activity';
import type { Readable } from 'node:stream';
import { archiveUpload } from '../../adapters/backup-files/tar-archive';
import type Docker from 'dockerode';
import type { Hooks } from '../../adapters/hooks';
import { checkStorageExists, ensureToolImage, runToCompletion, storageSource, STORAGE_TARGET, withToolContainer } from '../../adapters/docker/tool-container';
import type { FailureType } from '../../common/failure-types';
import type { DockerStorageConfig } from '../../config/schema';
import type { StorageVolume } from './storage-volume';

/** A Docker volume or host path, reached by helper containers from the tool image on its Docker host. */
export function dockerVolume(docker: Docker, cluster: string, storage: DockerStorageConfig, toolImage: string, hooks: Hooks): StorageVolume {
  const spec = (label: string, purpose: string, readOnly: boolean, cmd?: string[]) => ({ cluster, label, purpose, image: toolImage, storage, readOnly, ...(cmd ? { cmd } : {}) });
  return {
    source: storageSource(storage),

    async ensureReady(failure: FailureType) {
      await ensureToolImage(docker, toolImage, storage.dockerHost, hooks);
      await checkStorageExists(docker, storage, failure);
    },

    archive(label, sink) {
      return withToolContainer(docker, spec(label, 'backup', true), hooks, async (container) => {
        // `/.`: the directory's contents as `./…`, not a `storage/` directory around them.
        const tar = (await container.getArchive({ path: `${STORAGE_TARGET}/.` })) as unknown as Readable;
        return sink(tar);
      });
    },

    async run(label, purpose, command) {
      const done = await withToolContainer(docker, spec(label, purpose, false, command), hooks, (container) => runToCompletion(container, hooks));
      return { exitCode: done.exitCode, output: done.output };
    },

    async unpack(label, into, tar) {
      if (into.includes('..')) throw ApplicationFailure.nonRetryable(`unpack target ${into} leaves the storage`, 'InvalidInput');
      await withToolContainer(docker, spec(label, 'restore', false), hooks, async (container) => {
        // Entries are `./…`: unpacked in `into` they land at their relative paths there.
        await container.putArchive(archiveUpload(tar, hooks), { path: `${STORAGE_TARGET}/${into}` });
      });
    },
  };
}
