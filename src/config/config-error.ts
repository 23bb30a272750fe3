/** A configuration the worker cannot run with. Its message names the file, key path and expectation. */
export class ConfigError extends Error {
  override name = 'ConfigError';

  constructor(
    message: string,
    readonly problems: readonly string[] = [message],
  ) {
    super(message);
  }
}
