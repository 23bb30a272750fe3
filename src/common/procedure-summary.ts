/**
 * The one-line `staticSummary` a procedure's workflow carries in the Temporal UI's list and page,
 * for starters that can set one (schedules, the scheduled launcher, the npm wrappers). Built
 * from the procedure's input, which never holds secrets.
 */
export function procedureSummary(procedure: string, input: { cluster: string } & Record<string, unknown>): string {
  const dryRun = input.dryRun === true ? ' (dry run)' : '';
  switch (procedure) {
    case 'versionUpgrade':
      return `Upgrade of ${input.cluster} to ${typeof input.image === 'string' ? `\`${input.image}\`` : 'a new image'}${dryRun}`;
    case 'inAppMaintenance': {
      const operations = Array.isArray(input.operations) ? input.operations.map(describeOperation) : [];
      return `In-app maintenance of ${input.cluster}: ${operations.length > 0 ? operations.join(', ') : 'manual work'}${dryRun}`;
    }
    case 'firstStart':
      return `First start of ${input.cluster}${dryRun}`;
    default:
      return `${procedure} on ${input.cluster}${dryRun}`;
  }
}

function describeOperation(operation: unknown): string {
  if (typeof operation !== 'object' || operation === null) return 'an operation';
  const { type, args } = operation as { type?: unknown; args?: unknown };
  if (type === 'pm' && Array.isArray(args)) return `pm ${args.join(' ')}`;
  return typeof type === 'string' ? type : 'an operation';
}
