import type Docker from 'dockerode';

/** One line of a pull, push or build stream as the Engine sends it. */
export interface DockerStreamEvent {
  status?: string;
  id?: string;
  progress?: string;
  stream?: string;
  error?: string;
  errorDetail?: { message?: string };
}

/**
 * Follows a pull, push or build stream to its end. The Engine answers 200 and then reports a
 * failure *inside* the stream (`error` / `errorDetail`), so such an event must become the
 * rejection here or a failed pull looks like a successful one.
 */
export function followProgressStream(docker: Docker, stream: NodeJS.ReadableStream, onEvent: (event: DockerStreamEvent) => void = () => undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    let streamError: string | undefined;
    docker.modem.followProgress(
      stream,
      (error: Error | null) => {
        if (error) reject(error);
        else if (streamError) reject(new Error(streamError));
        else resolve();
      },
      (event: DockerStreamEvent) => {
        if (event.error || event.errorDetail) streamError ??= event.errorDetail?.message ?? event.error;
        onEvent(event);
      },
    );
  });
}

/** An event as one readable line (`<layer>: <status>`, or a build step's output); '' for none. */
export function streamLine(event: DockerStreamEvent): string {
  return (event.stream ?? (event.status ? `${event.id ? `${event.id}: ` : ''}${event.status}` : '')).trimEnd();
}
