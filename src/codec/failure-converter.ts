import { DefaultFailureConverter } from '@temporalio/common';

// Loaded by path (DataConverter.failureConverterPath) in the worker, the clients AND the workflow
// sandbox's bundle: a failure's message and stack trace move into its encoded attributes, a
// payload, so the payload codec encrypts them as it does inputs and results. Workflow-safe: no I/O.
export const failureConverter = new DefaultFailureConverter({ encodeCommonAttributes: true });
