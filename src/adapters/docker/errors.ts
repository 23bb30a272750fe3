/** dockerode rejects with the Engine's HTTP status in `statusCode`; these read it safely. */
export function dockerStatus(error: unknown): number | undefined {
  const status = (error as { statusCode?: unknown } | null)?.statusCode;
  return typeof status === 'number' ? status : undefined;
}

export const isNotFound = (error: unknown): boolean => dockerStatus(error) === 404;
/** 304: the container is already in the requested state (started or stopped). */
export const isNotModified = (error: unknown): boolean => dockerStatus(error) === 304;

/** The Engine's answer to `request`, or null when it answered 404 (no such container, image…). */
export async function nullIfNotFound<T>(request: Promise<T>): Promise<T | null> {
  try {
    return await request;
  } catch (error) {
    if (isNotFound(error)) return null;
    throw error;
  }
}
