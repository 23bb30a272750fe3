import { ApplicationFailure } from '@temporalio/common';
import type Docker from 'dockerode';
import { FailureType } from '../../common/failure-types';
import type { Hooks } from '../hooks';
import { nullIfNotFound } from './errors';
import { followProgressStream } from './progress-stream';

/**
 * The one image client: used by the images activities, the storage tool container and the stack
 * scripts alike, so that every pull handles in-stream errors and classifies failures the same way.
 */

/** Registry answers that will not change on a retry. */
const PERMANENT_PULL_ERROR = /manifest unknown|not found|repository does not exist|invalid reference|unauthorized/i;

/** Whether `image` is on the Engine, without pulling. */
export async function imagePresent(docker: Docker, image: string): Promise<boolean> {
  return (await nullIfNotFound(docker.getImage(image).inspect())) !== null;
}

export interface PullOptions {
  /** Names the Engine in failure messages (a DOCKER_HOST-style address). */
  dockerHost: string;
  /** How failures name the image, e.g. "tool image"; default "image". */
  what?: string;
  /** Appended to failure messages, e.g. which setting to check. */
  hint?: string;
  hooks?: Hooks;
}

/**
 * Pulls `image` unless the Engine has it; true when it pulled. Progress events go to
 * `hooks.progress`. Fails as ImageUnavailable: non-retryable for registry answers no retry
 * changes (unknown tag or repository, bad reference, refused credentials), retryable otherwise.
 */
export async function ensureImage(docker: Docker, image: string, options: PullOptions): Promise<boolean> {
  if (await imagePresent(docker, image)) return false;
  options.hooks?.log?.('info', 'pulling image', { image, dockerHost: options.dockerHost });
  try {
    await followProgressStream(docker, await docker.pull(image), (event) =>
      options.hooks?.progress?.({ image, status: event.status, layer: event.id, progress: event.progress }),
    );
  } catch (error) {
    const reason = (error as Error).message;
    const message = `${options.what ?? 'image'} ${image} cannot be pulled onto ${options.dockerHost}: ${reason}${options.hint ? ` (${options.hint})` : ''}`;
    if (PERMANENT_PULL_ERROR.test(reason)) throw ApplicationFailure.nonRetryable(message, FailureType.ImageUnavailable);
    throw ApplicationFailure.retryable(message, FailureType.ImageUnavailable);
  }
  return true;
}
